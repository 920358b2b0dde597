"""Engine overheads fitted on serving records, cross-validated leaving one hardware × engine group out.

An engine's overheads add ``a + b·d`` to each decode iteration of ``d`` sequences
(:meth:`chipfleet.perf.engines.EngineProfile.overhead_s`). With the engines' overheads at zero, each record's
mean TPOT residual ``r = measured − predicted`` is, to first order, ``a + b·d`` with ``d`` the run's concurrency
(InferenceX runs the engine with ``max_num_seqs = conc``), and :func:`chipfleet.perf.engines.fit_overheads` fits
``(a, b) ≥ 0`` per engine by least absolute relative error. Cross-validation predicts each hardware × engine group
with its engine's overheads fitted on the engine's other groups only (an engine seen on one group alone gets
none), so no group's own runs inform its prediction.

An engine's first-token overhead ``c`` (``EngineProfile.first_token_overhead_s``) adds once to each request's
TTFT: on the runs at concurrency ``<= FIRST_TOKEN_MAX_CONCURRENCY`` (little queueing or batching, so the model's
TTFT is a prompt's own prefill) the mean TTFT residual with ``c = 0`` is ``c`` plus noise, and
:func:`chipfleet.perf.engines.fit_first_token_overhead` fits it per engine by least absolute relative error,
cross-validated the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.engines import engine_profile, fit_first_token_overhead, fit_overheads
from chipfleet.validate.serving.records import RecordSet
from chipfleet.validate.serving.runner import ServingReport, ServingRow, validate_serving

FIT_METRIC = "mean_tpot"
FIRST_TOKEN_METRICS = {"mean_ttft": 1.0, "mean_ttft_ms": 1e-3}  # metric -> seconds per unit
FIRST_TOKEN_MAX_CONCURRENCY = 8  # the low-concurrency runs the first-token overhead is fitted on


@dataclass(frozen=True)
class EngineFit:
    """One engine's overheads fitted on all its runs."""

    engine: str
    runs: int
    iteration_overhead_s: float
    per_seq_overhead_s: float
    first_token_runs: int = 0
    first_token_overhead_s: float = 0.0


@dataclass(frozen=True)
class ServingCalibration:
    """The fits, the records predicted without the refitted engines' overheads, and cross-validated."""

    fits: tuple[EngineFit, ...]
    without: ServingReport  # the refitted engines' overheads at zero
    cross_validated: ServingReport  # each hardware × engine group with overheads fitted on the engine's others


def _engine_name(framework: str) -> str | None:
    try:
        return engine_profile(framework).name
    except ChipfleetError:
        return None


def _fit(rows: list[ServingRow]) -> tuple[float, float]:
    return fit_overheads(
        [r.measured - r.predicted for r in rows], [float(r.concurrency) for r in rows], [r.measured for r in rows]
    )


def _fit_first_token(rows: list[ServingRow]) -> float:
    scale = [FIRST_TOKEN_METRICS[r.metric] for r in rows]
    return fit_first_token_overhead(
        [(r.measured - r.predicted) * k for r, k in zip(rows, scale, strict=True)],
        [r.measured * k for r, k in zip(rows, scale, strict=True)],
    )


def calibrate_serving(
    records: RecordSet,
    catalog: Catalog,
    engines: Iterable[str] | None = None,
    first_token_engines: Iterable[str] | None = None,
) -> ServingCalibration:
    """Fit ``engines``' iteration overheads and ``first_token_engines``' first-token overheads (default for each:
    every engine with a profile that ran a record) and cross-validate."""
    ran = sorted({n for n in (_engine_name(r.framework) for r in records.records) if n is not None})
    names = ran if engines is None else sorted({engine_profile(e).name for e in engines})
    first_names = ran if first_token_engines is None else sorted({engine_profile(e).name for e in first_token_engines})
    zero = {name: (0.0, 0.0) for name in names}
    zero_first = dict.fromkeys(first_names, 0.0)
    without = validate_serving(records, catalog, overheads=zero, first_token=zero_first)
    tpot = [r for r in without.results if r.metric == FIT_METRIC and r.measured > 0]
    ttft = [
        r
        for r in without.results
        if r.metric in FIRST_TOKEN_METRICS and r.measured > 0 and r.concurrency <= FIRST_TOKEN_MAX_CONCURRENCY
    ]
    fits = []
    for name in sorted({*names, *first_names}):
        own = [r for r in tpot if _engine_name(r.engine) == name] if name in zero else []
        own_first = [r for r in ttft if _engine_name(r.engine) == name] if name in zero_first else []
        if own or own_first:
            a, b = _fit(own) if own else (0.0, 0.0)
            c = _fit_first_token(own_first) if own_first else 0.0
            fits.append(
                EngineFit(
                    engine=name,
                    runs=len(own),
                    iteration_overhead_s=a,
                    per_seq_overhead_s=b,
                    first_token_runs=len(own_first),
                    first_token_overhead_s=c,
                )
            )
    results: list[ServingRow] = []
    for hw, framework in sorted({(rec.hw, rec.framework) for rec in records.records}):
        engine = _engine_name(framework)
        overheads = dict(zero)
        first = dict(zero_first)
        if engine in zero:
            others = [r for r in tpot if _engine_name(r.engine) == engine and r.hw != hw]
            overheads[engine] = _fit(others) if others else (0.0, 0.0)
        if engine in zero_first:
            others = [r for r in ttft if _engine_name(r.engine) == engine and r.hw != hw]
            first[engine] = _fit_first_token(others) if others else 0.0
        group = _group(records, (hw, framework))
        results += validate_serving(group, catalog, overheads=overheads, first_token=first).results
    # the held-out rows in the report of the whole data (its skips and scope)
    cross = replace(without, results=tuple(results))
    return ServingCalibration(fits=tuple(fits), without=without, cross_validated=cross)


# The TTFT keys a custom-silicon record may carry (seconds): the Neuron tables publish medians only.
GROUP_TTFT_METRICS = ("mean_ttft", "median_ttft")


@dataclass(frozen=True)
class GroupHeldOut:
    """First-token overheads fitted per engine on a record set and its leave-one-hardware × engine-group-out
    prediction: ``fits`` on all records; ``cross_validated`` predicts each group with its engine's overhead
    refitted on the engine's other groups (none when the engine ran only that group)."""

    fits: tuple[tuple[str, int, float], ...]  # (engine, runs fitted on, first_token_overhead_s)
    cross_validated: ServingReport


def _ttft_rows(report: ServingReport, max_concurrency: int) -> list[ServingRow]:
    return [
        r
        for r in report.results
        if r.metric in GROUP_TTFT_METRICS and r.measured > 0 and r.concurrency <= max_concurrency
    ]


def _group(records: RecordSet, key: tuple[str, str]) -> RecordSet:
    return RecordSet(
        records=tuple(rec for rec in records.records if (rec.hw, rec.framework) == key),
        bad=(),
        path=records.path,
        sha256=records.sha256,
        format=records.format,
    )


def first_token_held_out(
    records: RecordSet,
    catalog: Catalog,
    engines: Iterable[str],
    max_concurrency: int = FIRST_TOKEN_MAX_CONCURRENCY,
) -> GroupHeldOut:
    """Fit ``engines``' first-token overheads on the mean or median TTFT of ``records`` at concurrency
    ``<= max_concurrency`` (residual with the overhead at 0, :func:`chipfleet.perf.engines.fit_first_token_overhead`)
    and predict every record with each hardware × engine group left out of its engine's fit."""
    names = sorted({engine_profile(e).name for e in engines})
    zero = dict.fromkeys(names, 0.0)
    without = validate_serving(records, catalog, first_token=zero)
    ttft = _ttft_rows(without, max_concurrency)
    fits = []
    for name in names:
        own = [r for r in ttft if _engine_name(r.engine) == name]
        fits.append((name, len(own), _fit_ttft(own)))
    results: list[ServingRow] = []
    for hw, framework in sorted({(rec.hw, rec.framework) for rec in records.records}):
        engine = _engine_name(framework)
        first = dict(zero)
        if engine in zero:
            others = [r for r in ttft if _engine_name(r.engine) == engine and (r.hw, r.engine) != (hw, framework)]
            first[engine] = _fit_ttft(others)
        results += validate_serving(_group(records, (hw, framework)), catalog, first_token=first).results
    return GroupHeldOut(fits=tuple(fits), cross_validated=replace(without, results=tuple(results)))


def _fit_ttft(rows: list[ServingRow]) -> float:
    return fit_first_token_overhead([r.measured - r.predicted for r in rows], [r.measured for r in rows])
