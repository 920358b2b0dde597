"""Serving records predicted under load: one row per result key, skips with their reasons, summaries by group."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ChipfleetError
from chipfleet.validate.serving.predict import RecordSkip, ServingCase, map_record, metric_value, predict_case
from chipfleet.validate.serving.records import RecordSet, ServingRecord
from chipfleet.workloads import ModelArch

NOT_PREDICTED = (
    "not predicted: the closed-loop model gives means and steady-state medians, not spreads or tails; and ITL "
    "only where tokens stream one by one (mean ITL within 2× mean TPOT)"
)


@dataclass(frozen=True)
class ServingRow:
    """One result key of one record: measured, predicted (same unit) and the error."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("ape",)

    id: str
    metric: str
    measured: float
    predicted: float
    hw: str
    engine: str
    model: str
    model_family: str
    instance: str
    tp: int
    concurrency: int
    assumptions: tuple[str, ...]

    @property
    def ape(self) -> float:
        """|predicted − measured| / measured (NaN for a measurement of 0)."""
        return abs(self.predicted - self.measured) / abs(self.measured) if self.measured else math.nan


@dataclass(frozen=True)
class ServingSkipped:
    """A record (``metric`` None) or one of its result keys that is not predicted, and why."""

    id: str
    metric: str | None
    skipped: str
    hw: str
    engine: str
    model: str


@dataclass(frozen=True)
class MetricSummary:
    """The errors of one metric over a group of rows."""

    metric: str
    n: int
    mdape: float
    p90_ape: float


@dataclass(frozen=True)
class ServingReport:
    """Every record predicted or skipped (its JSON: the fields, then the summary properties)."""

    __json_properties__: ClassVar[tuple[str, ...]] = (
        "records_predicted",
        "records_in_scope",
        "coverage",
        "by_metric",
        "by_hardware_engine",
    )

    results: tuple[ServingRow, ...]
    skipped: tuple[ServingSkipped, ...]
    bad: tuple[tuple[str, str], ...]  # malformed records skipped with skip_bad_rows: (id, what is wrong)
    records: int
    aggregated: int  # records that are not disaggregated: the scope of coverage
    data: str
    data_sha256: str
    # the file's disaggregated records, predicted apart (validate.serving.disagg.validate_disagg; its scope, the
    # "aggregated" count there, is those records); None when the file has none or they were not asked for
    disaggregated: ServingReport | None = None

    @property
    def records_predicted(self) -> int:
        return len({r.id for r in self.results})

    @property
    def records_in_scope(self) -> int:
        return self.aggregated

    @property
    def coverage(self) -> float:
        """Share of aggregated records with at least one predicted result."""
        return self.records_predicted / self.aggregated if self.aggregated else 0.0

    @property
    def by_metric(self) -> tuple[MetricSummary, ...]:
        return summarize(self.results)

    @property
    def by_hardware_engine(self) -> tuple[GroupSummary, ...]:
        """The errors per hardware × engine pair (the group cross-validation leaves out)."""
        return summarize_by(self.results, lambda r: f"{r.hw}×{r.engine}")


@dataclass(frozen=True)
class GroupSummary:
    """The errors of one group of records (a hardware × engine pair, a model family ...), per metric."""

    group: str
    records: int
    metrics: tuple[MetricSummary, ...]

    def mdape(self, metric: str) -> float:
        """Median APE of ``metric`` in this group (NaN when it has no such row)."""
        return next((m.mdape for m in self.metrics if m.metric == metric), math.nan)


def summarize_by(rows: Iterable[ServingRow], key: Callable[[ServingRow], str]) -> tuple[GroupSummary, ...]:
    """:func:`summarize` per group of rows (``key``: hardware, engine, ``f"{r.hw}×{r.engine}"`` ...), by group."""
    groups: dict[str, list[ServingRow]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return tuple(
        GroupSummary(group=g, records=len({r.id for r in v}), metrics=summarize(v)) for g, v in sorted(groups.items())
    )


def summarize(rows: Iterable[ServingRow]) -> tuple[MetricSummary, ...]:
    """Median and p90 APE per metric, by metric name."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if math.isfinite(r.ape):
            groups[r.metric].append(r.ape)
    return tuple(
        MetricSummary(
            metric=m,
            n=len(v),
            mdape=float(np.median(v)),
            p90_ape=float(np.percentile(v, 90)),
        )
        for m, v in sorted(groups.items())
    )


def _skip_row(s: RecordSkip) -> ServingSkipped:
    return ServingSkipped(id=s.id, metric=s.metric, skipped=s.reason, hw=s.hw, engine=s.engine, model=s.model)


def _rows(case: ServingCase) -> tuple[list[ServingRow], list[ServingSkipped]]:
    res = predict_case(case)
    return result_rows(case.record, case.model, case.instance, case.tp, case.assumptions,
                       lambda metric: metric_value(metric, case, res))  # fmt: skip


def result_rows(
    rec: ServingRecord,
    model: ModelArch,
    instance: str,
    tp: int,
    assumptions: tuple[str, ...],
    predicted: Callable[[str], float | None],
) -> tuple[list[ServingRow], list[ServingSkipped]]:
    """A row per result key of ``rec`` that ``predicted`` gives a finite value for, the others skipped with
    :data:`NOT_PREDICTED` (aggregated and disaggregated records alike)."""
    rows: list[ServingRow] = []
    skipped: list[ServingSkipped] = []
    for metric, measured in rec.results:
        value = predicted(metric)
        if value is None or not math.isfinite(value):
            skipped.append(ServingSkipped(rec.id, metric, NOT_PREDICTED, rec.hw, rec.framework, rec.model))
            continue
        rows.append(
            ServingRow(
                id=rec.id,
                metric=metric,
                measured=measured,
                predicted=value,
                hw=rec.hw,
                engine=rec.framework,
                model=model.name,
                model_family=str(model.family),
                instance=instance,
                tp=tp,
                concurrency=rec.concurrency or 0,
                assumptions=assumptions,
            )
        )
    return rows, skipped


def validate_serving(
    data: RecordSet,
    catalog: Catalog,
    progress: Callable[[str], None] | None = None,
    overheads: Mapping[str, tuple[float, float]] | None = None,
    first_token: Mapping[str, float] | None = None,
) -> ServingReport:
    """Predict every record of ``data`` as the closed- or open-loop run it was (see :mod:`.predict`);
    ``overheads`` and ``first_token`` replace named engines' overheads (cross-validation refits)."""
    results: list[ServingRow] = []
    skipped: list[ServingSkipped] = []
    n = len(data.records)
    for i, rec in enumerate(data.records):
        case = map_record(rec, catalog, overheads, first_token)
        if isinstance(case, RecordSkip):
            skipped.append(_skip_row(case))
        else:
            try:
                rows, skips = _rows(case)
            except ChipfleetError as exc:
                skipped.append(ServingSkipped(rec.id, None, str(exc), rec.hw, rec.framework, rec.model))
            else:
                results += rows
                skipped += skips
        if progress is not None and (i + 1) % 500 == 0:
            progress(f"serving records: {i + 1:,}/{n:,}")
    return ServingReport(
        results=tuple(results),
        skipped=tuple(skipped),
        bad=data.bad,
        records=n,
        aggregated=sum(1 for r in data.records if not r.disagg),
        data=data.path,
        data_sha256=data.sha256,
    )
