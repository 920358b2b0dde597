"""`chipfleet validate`: predict published measurements and summarise the errors per family."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.economics.uncertainty import speed_band
from chipfleet.serialize import NULL_REASONS_KEY, to_jsonable
from chipfleet.validate.calibrate import Observation, calibrate, observe
from chipfleet.validate.dataset import Measurement, MeasurementSet
from chipfleet.validate.mapping import Skip, map_chip
from chipfleet.validate.predict import TIME_LIKE_METRICS, predict


@dataclass(frozen=True)
class RowResult:
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
    id: str
    metric: str
    reason: str
    in_scope: bool
    family: str | None  # when the accelerator maps to a catalog chip


@dataclass(frozen=True)
class FamilySummary:
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

    def by_family(self) -> list[FamilySummary]:
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
        return out

    def _skipped_families(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for s in self.skipped:
            if s.in_scope and s.family:
                counts[s.family] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """Strict-JSON-ready data: a value that is not a finite number (the median of no rows) is null, and
        ``null_reasons`` maps its path to why."""
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "metric": r.metric,
                "measured": r.measured,
                "predicted": r.predicted,
                "range": list(r.range) if r.range is not None else None,
                "in_range": r.in_range,
                "ape": r.ape,
                "family": r.family,
                "chip": r.chip,
                "model": r.model,
                "instance": r.instance,
                **({"copies": r.copies} if r.copies is not None else {}),
                "assumptions": list(r.assumptions),
            }
            for r in self.results
        ]
        rows += [{"id": s.id, "metric": s.metric, "skipped": s.reason, "in_scope": s.in_scope} for s in self.skipped]
        reasons: dict[str, str] = {}
        out = to_jsonable({"rows": rows, "summary": self._summary_dict()}, reasons=reasons)
        if reasons:
            out[NULL_REASONS_KEY] = {
                path: "no predicted row (with a range, for band_coverage) to summarise: undefined"
                if path.startswith("$.summary.")
                else why
                for path, why in reasons.items()
            }
        result: dict[str, Any] = out
        return result

    def _summary_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "data": self.data,
            "data_sha256": self.data_sha256,
            "mdape": self.mdape,
            "p90_ape": self.p90_ape,
            "band_coverage": self.band_coverage,
            "band_rows": sum(1 for r in self.results if r.range is not None),
            "coverage": self.coverage,
            "rows_in_scope": self.rows_in_scope,
            "rows_predicted": len(self.results),
            "by_family": {
                f.family: {
                    "mdape": f.mdape,
                    "p90_ape": f.p90_ape,
                    "n": f.n,
                    "in_scope": f.in_scope,
                    "coverage": f.coverage,
                    "band_coverage": f.band_coverage,
                    "median_ratio": f.median_ratio,
                    "validated": f.validated,
                }
                for f in self.by_family()
            },
        }


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
