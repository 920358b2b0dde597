"""Per-engine overheads fitted on the shipped InferenceX runs, cross-validated leaving one hardware × engine out.

The closed-loop model (validate.serving) predicts each aggregated run's mean TPOT with the engine overheads at
zero; an engine's overheads add ``a + b·d`` to each decode iteration of ``d`` sequences (``d`` = the run's
concurrency: InferenceX launches the engine with ``--max-num-seqs $CONC``), so to first order
``measured ≈ predicted + a + b·d``. ``perf.engines.fit_overheads`` fits ``(a, b) ≥ 0`` per engine by least
absolute relative error. The validation pipeline runs each record with its engine's shipped overheads
(validate.serving.predict.record_engine), so this script first takes them out again (to first order) and fits from
zero. Printed: the fit on all runs of each engine (the values to ship in perf/data/engines.yaml) and, per hardware
× engine group, the median APE of mean TPOT with no engine overheads, with overheads fitted on the engine's other
groups (held out: the cross-validated figure) and with the all-runs fit (in sample).

Then the per-request first-token overhead (``first_token_overhead_s``, added once to each TTFT):
validate.serving.calibrate fits it per engine on the mean TTFT of the runs at concurrency <= 8 and predicts each
hardware × engine group with the value fitted on the engine's other hardware; printed: the all-runs fit and the
median APE of mean TTFT per engine with none and held out.

Run: .venv/bin/python benchmarks/engine_overheads.py
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from chipfleet.catalog import load_catalog
from chipfleet.exceptions import ChipfleetError
from chipfleet.perf.engines import EngineProfile, engine_profile, fit_overheads
from chipfleet.validate.serving import ServingRow, calibrate_serving, shipped_inferencex, validate_serving

METRIC = "mean_tpot"


def _engine(name: str) -> EngineProfile | None:
    try:
        return engine_profile(name)
    except ChipfleetError:
        return None


def _mdape(pred: np.ndarray, meas: np.ndarray) -> float:
    return float(np.median(np.abs(pred - meas) / meas)) if meas.size else math.nan


def main() -> None:
    report = validate_serving(shipped_inferencex(), load_catalog())
    rows: list[tuple[str, str, float, float, float]] = []  # engine, hw, measured, predicted w/o overhead, d
    for r in report.results:
        engine = _engine(r.engine) if isinstance(r, ServingRow) and r.metric == METRIC else None
        if engine is None or not r.measured > 0:
            continue
        d = float(r.concurrency)
        # validate.serving runs each record with its engine's shipped overheads (predict.record_engine): take them
        # out again, to first order a + b·d per decode iteration, so the fit starts from zero overheads
        rows.append((engine.name, r.hw, r.measured, r.predicted - engine.overhead_s(d), d))
    engines = sorted({e for e, *_ in rows})
    print(f"{len(rows)} aggregated runs with a predicted {METRIC}, engines: {', '.join(engines)}")
    fits: dict[str, tuple[float, float]] = {}
    for e in engines:
        sel = [x for x in rows if x[0] == e]
        fits[e] = fit_overheads([m - p for _, _, m, p, _ in sel], [x[4] for x in sel], [x[2] for x in sel])
        print(f"  fit on all {len(sel):4d} runs of {e:<8}: iteration_overhead_s = {fits[e][0]:.6f}, "
              f"per_seq_overhead_s = {fits[e][1]:.3e}")  # fmt: skip
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (e, hw, *_rest) in enumerate(rows):
        groups[(e, hw)].append(i)
    meas = np.array([x[2] for x in rows])
    base = np.array([x[3] for x in rows])
    d = np.array([x[4] for x in rows])
    held = np.empty_like(base)
    insample = np.empty_like(base)
    print(
        f"\n{'engine × hardware':<24} {'runs':>5} {'no overhead':>12} {'held out':>10} {'in sample':>10}  fit held out"
    )
    for (e, hw), idx in sorted(groups.items()):
        others = [i for i in range(len(rows)) if rows[i][0] == e and rows[i][1] != hw]
        a, b = (
            fit_overheads([meas[i] - base[i] for i in others], [d[i] for i in others], [meas[i] for i in others])
            if others
            else (0.0, 0.0)
        )
        ix = np.array(idx)
        held[ix] = base[ix] + a + b * d[ix]
        fa, fb = fits[e]
        insample[ix] = base[ix] + fa + fb * d[ix]
        print(f"{e + ' × ' + hw:<24} {len(idx):>5} {_mdape(base[ix], meas[ix]):>12.1%} "
              f"{_mdape(held[ix], meas[ix]):>10.1%} {_mdape(insample[ix], meas[ix]):>10.1%}  "
              f"a={a * 1e3:.2f} ms b={b * 1e6:.1f} µs")  # fmt: skip
    print(f"\n{'all':<24} {len(rows):>5} {_mdape(base, meas):>12.1%} {_mdape(held, meas):>10.1%} "
          f"{_mdape(insample, meas):>10.1%}")  # fmt: skip
    for e in engines:
        ix = np.array([i for i in range(len(rows)) if rows[i][0] == e])
        print(f"{e:<24} {ix.size:>5} {_mdape(base[ix], meas[ix]):>12.1%} {_mdape(held[ix], meas[ix]):>10.1%} "
              f"{_mdape(insample[ix], meas[ix]):>10.1%}")  # fmt: skip
    first_token()


def _ttft_mdape(rows: tuple[ServingRow, ...], engine: str) -> float:
    apes = [r.ape for r in rows if r.metric == "mean_ttft" and math.isfinite(r.ape) and _name(r.engine) == engine]
    return float(np.median(apes)) if apes else math.nan


def _name(framework: str) -> str | None:
    engine = _engine(framework)
    return engine.name if engine is not None else None


def first_token() -> None:
    """The first-token overhead fitted per engine and its held-out effect on mean TTFT."""
    records, catalog = shipped_inferencex(), load_catalog()
    cal = calibrate_serving(records, catalog, engines=[])  # iteration overheads as shipped
    none = validate_serving(records, catalog, first_token={fit.engine: 0.0 for fit in cal.fits})
    print(f"\n{'engine':<10} {'runs <= 8':>9} {'first_token_overhead_s':>23} {'TTFT none':>10} {'held out':>9}")
    for fit in cal.fits:
        print(f"{fit.engine:<10} {fit.first_token_runs:>9} {fit.first_token_overhead_s:>23.4f} "
              f"{_ttft_mdape(none.results, fit.engine):>10.1%} "
              f"{_ttft_mdape(cal.cross_validated.results, fit.engine):>9.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
