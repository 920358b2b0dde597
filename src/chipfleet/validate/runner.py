"""`chipfleet validate`: predict published measurements and summarise the errors per family."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.validate.calibrate import calibrate, observe
from chipfleet.validate.dataset import Measurement, MeasurementSet
from chipfleet.validate.mapping import Skip, map_chip
from chipfleet.validate.predict import predict


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

    @property
    def ape(self) -> float:
        """Absolute percentage error, |pred − measured| / measured."""
        return abs(self.predicted - self.measured) / abs(self.measured)


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
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "metric": r.metric,
                "measured": r.measured,
                "predicted": r.predicted,
                "ape": r.ape,
                "family": r.family,
                "chip": r.chip,
                "model": r.model,
                "instance": r.instance,
                "assumptions": list(r.assumptions),
            }
            for r in self.results
        ]
        rows += [{"id": s.id, "metric": s.metric, "skipped": s.reason, "in_scope": s.in_scope} for s in self.skipped]
        return {
            "rows": rows,
            "summary": {
                "mode": self.mode,
                "data": self.data,
                "data_sha256": self.data_sha256,
                "mdape": self.mdape,
                "p90_ape": self.p90_ape,
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
                        "validated": f.validated,
                    }
                    for f in self.by_family()
                },
            },
        }


def _family_of(row: Measurement, catalog: Catalog) -> str | None:
    chip = map_chip(row, catalog)
    return None if isinstance(chip, Skip) else chip[0].family


def _pct(rows: list[RowResult] | tuple[RowResult, ...], q: float) -> float:
    if not rows:
        return float("nan")
    return float(np.percentile(np.array([r.ape for r in rows]), q))


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
        validated = frozenset(cal.bands)
        mode = "cross-validated (leave one source out)"
    else:
        obs, skipped = observe(data, catalog)
        preds = {ob.row.id: predict(ob.prep) for ob in obs}
        validated = frozenset(n for n, f in catalog.families.items() if f.validated)
        mode = "catalog parameters"
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
