"""`chipfleet validate`: predict published measurements and summarise the errors per family."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.economics.uncertainty import speed_band
from chipfleet.validate.calibrate import Observation, calibrate, observe
from chipfleet.validate.dataset import Measurement, MeasurementSet
from chipfleet.validate.mapping import Skip, map_chip
from chipfleet.validate.predict import TIME_LIKE_METRICS, predict


@dataclass(frozen=True)
class RowResult:
    """One predicted row: the published measurement, chipfleet's prediction and the error between them."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("ape", "in_range")

    id: str
    metric: str
    kind: str
    family: str
    chip: str
    model: str
    instance: str
    source: str
    measured: float
    predicted: float
    assumptions: tuple[str, ...]
    # The prediction's 10-90 % range in the row's unit (low, high), as an estimate of this row would print
    # it; None when the family has no band. Cross-validated: the band without the row's source.
    range: tuple[float, float] | None = None
    copies: int | None = None  # inference rows: model copies the predicted throughput is for

    @property
    def ape(self) -> float:
        """Absolute percentage error, |pred − measured| / measured (NaN for a measurement of 0)."""
        return abs(self.predicted - self.measured) / abs(self.measured) if self.measured else float("nan")

    @property
    def in_range(self) -> bool | None:
        """Whether the measurement lies inside :attr:`range` (None without a range)."""
        return None if self.range is None else self.range[0] <= self.measured <= self.range[1]


@dataclass(frozen=True)
class RowSkipped:
    """A row chipfleet cannot predict, and why; ``in_scope`` rows count against coverage."""

    id: str
    metric: str
    reason: str
    in_scope: bool
    family: str | None  # when the accelerator maps to a catalog chip


@dataclass(frozen=True)
class FamilySummary:
    """The errors of one efficiency family's predicted rows."""

    __json_properties__: ClassVar[tuple[str, ...]] = ("coverage",)

    family: str
    n: int
    in_scope: int
    mdape: float
    p90_ape: float
    validated: bool
    band_coverage: float  # share of rows with a range whose measurement lies inside it (NaN: none)
    median_ratio: float  # median measured ÷ predicted speed (> 1: ran faster than predicted; NaN: no rows)

    @property
    def coverage(self) -> float:
        return self.n / self.in_scope if self.in_scope else 0.0


@dataclass(frozen=True)
class ValidationReport:
    """Every row predicted or skipped, and the summary (its JSON: the fields, then the summary properties; a
    median of no rows is NaN, written as null with its reason by :func:`chipfleet.serialize.dumps`)."""

    __json_properties__: ClassVar[tuple[str, ...]] = (
        "mdape",
        "p90_ape",
        "band_coverage",
        "band_rows",
        "coverage",
        "rows_in_scope",
        "rows_predicted",
        "by_family",
    )

    results: tuple[RowResult, ...]
    skipped: tuple[RowSkipped, ...]
    data: str
    data_sha256: str
    mode: str  # "catalog" (current parameters) or "cross-validated" (leave one source out)
    validated_families: frozenset[str]

    @property
    def rows_in_scope(self) -> int:
        return len(self.results) + sum(1 for s in self.skipped if s.in_scope)

    @property
    def coverage(self) -> float:
        return len(self.results) / self.rows_in_scope if self.rows_in_scope else 0.0

    @property
    def mdape(self) -> float:
        return _pct(self.results, 50)

    @property
    def p90_ape(self) -> float:
        return _pct(self.results, 90)

    @property
    def band_coverage(self) -> float:
        """Share of rows with a range whose measurement lies inside it; an honest 10-90 % band covers ≈ 80 %."""
        return _band_coverage(self.results)

    @property
    def band_rows(self) -> int:
        """Rows with a 10-90 % range (the rows :attr:`band_coverage` is over)."""
        return sum(1 for r in self.results if r.range is not None)

    @property
    def rows_predicted(self) -> int:
        return len(self.results)

    @property
    def by_family(self) -> tuple[FamilySummary, ...]:
        """One summary per family with predicted or in-scope skipped rows, by name."""
        groups: dict[str, list[RowResult]] = defaultdict(list)
        for r in self.results:
            groups[r.family].append(r)
        skipped_by_family = self._skipped_families()
        out = []
        for fam in sorted(set(groups) | set(skipped_by_family)):
            rows = groups.get(fam, [])
            out.append(
                FamilySummary(
                    family=fam,
                    n=len(rows),
                    in_scope=len(rows) + skipped_by_family.get(fam, 0),
                    mdape=_pct(rows, 50),
                    p90_ape=_pct(rows, 90),
                    validated=fam in self.validated_families,
                    band_coverage=_band_coverage(rows),
                    median_ratio=_median_ratio(rows),
                )
            )
        return tuple(out)

    def _skipped_families(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for s in self.skipped:
            if s.in_scope and s.family:
                counts[s.family] += 1
        return counts


def _family_of(row: Measurement, catalog: Catalog) -> str | None:
    chip = map_chip(row, catalog)
    return None if isinstance(chip, Skip) else chip[0].family


def _pct(rows: list[RowResult] | tuple[RowResult, ...], q: float) -> float:
    apes = [r.ape for r in rows if math.isfinite(r.ape)]
    if not apes:
        return float("nan")
    return float(np.percentile(np.array(apes), q))


def _band_coverage(rows: Sequence[RowResult]) -> float:
    inside = [r.in_range for r in rows if r.in_range is not None]
    return sum(inside) / len(inside) if inside else float("nan")


def _median_ratio(rows: Sequence[RowResult]) -> float:
    """Median of measured ÷ predicted *speed* (time-like metrics inverted), so > 1 means faster than predicted."""
    ratios = [
        (r.predicted / r.measured if r.metric in TIME_LIKE_METRICS else r.measured / r.predicted)
        for r in rows
        if r.measured > 0 and r.predicted > 0
    ]
    return float(np.median(ratios)) if ratios else float("nan")


def prediction_range(metric: str, predicted: float, band: tuple[float, float] | None) -> tuple[float, float] | None:
    """The 10-90 % range of a prediction in the metric's unit from a speed band (low, high): speed-like
    metrics ``[pred·low, pred·high]``, time-like ones ``[pred/high, pred/low]``."""
    if band is None:
        return None
    if metric in TIME_LIKE_METRICS:
        return predicted / band[1], predicted / band[0]
    return predicted * band[0], predicted * band[1]


def validate(
    data: MeasurementSet,
    catalog: Catalog,
    cross_validate: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Predict every in-scope row of ``data``.

    With ``cross_validate``, ``catalog`` must hold the priors (``load_catalog(calibrated=False)``): each
    family is refitted without each source in turn and that source's rows are predicted out of sample.
    Otherwise rows are predicted with the catalog's current parameters.
    """
    if cross_validate:
        cal = calibrate(data, catalog, cross_validate=True, progress=progress)
        obs, skipped = cal.observations, cal.skipped
        preds = cal.cv_predictions
        validated = cal.validated_families()
        mode = "cross-validated (leave one source out)"

        def band_of(ob: Observation) -> tuple[float, float] | None:
            return cal.holdout_band(ob.prep.family, ob.prep.kind, ob.source)
    else:
        obs, skipped = observe(data, catalog)
        preds = {ob.row.id: predict(ob.prep) for ob in obs}
        validated = frozenset(n for n, f in catalog.families.items() if f.validated)
        mode = "catalog parameters"

        def band_of(ob: Observation) -> tuple[float, float] | None:
            return speed_band(catalog.family(ob.prep.family), ob.prep.kind)

    results = tuple(
        RowResult(
            id=ob.row.id,
            metric=ob.row.metric,
            kind=ob.prep.kind,
            family=ob.prep.family,
            chip=ob.prep.case.chip.name,
            model=ob.prep.case.model.name,
            instance=ob.prep.case.instance.name,
            source=ob.source,
            measured=ob.measured,
            predicted=preds[ob.row.id],
            assumptions=ob.prep.assumptions,
            range=prediction_range(ob.row.metric, preds[ob.row.id], band_of(ob)),
            copies=ob.prep.copies,
        )
        for ob in obs
        if ob.row.id in preds
    )
    skipped_rows = tuple(
        RowSkipped(
            id=row.id,
            metric=row.metric,
            reason=skipped[row.id].reason,
            in_scope=skipped[row.id].in_scope,
            family=_family_of(row, catalog),
        )
        for row in data.rows
        if row.id in skipped
    )
    return ValidationReport(
        results=results,
        skipped=skipped_rows,
        data=data.path,
        data_sha256=data.sha256,
        mode=mode,
        validated_families=validated,
    )
