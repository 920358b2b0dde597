"""Fit the per-family efficiency parameters on published measurements, cross-validate, derive error bands.

Per family, the six parameters ``θ`` (see :class:`chipfleet.catalog.EfficiencyFamily`) minimise

    Σ_rows (log(pred_i(θ) / measured_i))²  +  Σ_params ((log θ_j − log θ_j,prior) / ln 2)²

a least-squares fit on log error with a weak log-normal prior (a factor of 2 from the prior's centre costs as
much as one row that is off by a factor of e). The prior keeps parameters the family's rows do not inform
near its centre instead of letting them drift. Discrete choices (the training split, tp, batch) are made
once with the documented prior and held fixed during the fit.

The prior's centre pools evidence within a vendor. A family *stands on its own* with at least
:data:`MIN_BAND_ROWS` fitted rows from at least :data:`MIN_OWN_SOURCES` sources: it is fitted around its
documented values (families.yaml). Every other family is fitted around the geometric mean of the fits of its
vendor's families that stand on their own (its *lenders*; same vendor and kind of chip, so an accelerator
never borrows from a CPU), or around its documented values when the vendor has none. A family with no rows
takes that centre as it is, so a family moves continuously from the borrowed values (0 rows) towards its own
rows as they accumulate, instead of jumping to the generic documented prior with its first few rows
(Trainium2's three inference rows from one source once moved its compute efficiency from 0.41, borrowed from
Trainium1/Inferentia2, to the prior-dominated 0.72). Rows from one source share one setup, so they are one
look at a family's level however many they are: with a single source a family keeps borrowing. Only families
that stand on their own lend, so a thin or borrowed fit never props up another family.

The prior also pulls the fit's overall level towards its centre, which leaves the point estimate biased
(one family's rows all ran slower than predicted). So the fit of a family that stands on its own, on at least
:data:`MIN_BAND_ROWS` rows, is then *centred*: every efficiency is multiplied by ``c`` and every overhead
divided by it (which scales predicted speed by ≈ c), with ``c`` chosen so that the median of the fitted
rows' log errors is 0. The point estimate is then the median of the fitted family, and the band around it
can be read as "as likely slower as faster". A borrowing family is not centred: the pull towards its
lenders' level is the point.

Leave-one-source-out cross-validation refits (and re-centres) each family without each of its sources and
predicts that source's rows (a borrowing family's prior centre is rebuilt from its lenders refitted without
that source too, so no fold sees the source it predicts); the 10th-90th percentiles of those out-of-sample
log errors, per family and metric kind, become the uncertainty bands every estimate prints. Errors cluster
by publication (one table's rows share its setup), so a band needs rows from several sources to say
anything about the next one: a family gets its own band only with at least :data:`MIN_BAND_ROWS` rows from
:data:`MIN_BAND_SOURCES` sources, a metric kind within it likewise; otherwise the family (or kind) takes
the pooled band of every family's out-of-sample errors. :meth:`Calibration.holdout_band` gives the band a
source's rows would have had without that source, so the coverage of the bands is checked out of sample
(``benchmarks/accuracy.py``). A family is *validated* when it was fitted on its own rows and at least
:data:`MIN_BAND_ROWS` of them were predicted out of sample.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import least_squares

from chipfleet.catalog import Catalog, default_catalog
from chipfleet.perf.hardware import Efficiency
from chipfleet.serialize import atomic_write_text
from chipfleet.validate.dataset import Measurement, MeasurementSet
from chipfleet.validate.mapping import Skip, map_row, server_rates
from chipfleet.validate.predict import TIME_LIKE_METRICS, Prepared, predict, prepare

FITTED = ("compute", "compute_half_rows", "memory", "collective", "layer_overhead_s", "step_overhead_s")
# Physical bounds of each parameter (SI): fractions of peak up to 1, overheads from 0.1 µs to 0.5 s.
BOUNDS: dict[str, tuple[float, float]] = {
    "compute": (0.05, 1.0),
    "compute_half_rows": (1.0, 8192.0),
    "memory": (0.05, 1.0),
    "collective": (0.02, 1.0),
    "layer_overhead_s": (1e-7, 1e-2),
    "step_overhead_s": (1e-6, 0.5),
}
PRIOR_SIGMA = math.log(2.0)
KINDS = ("throughput", "latency", "utilization")
MIN_BAND_ROWS = 4  # cross-validated rows a family needs to be validated, and a band of its own
# Sources a family's (or a metric kind's) own band needs. Chosen on the shipped data with the coverage check
# of benchmarks/accuracy.py: with bands from 3 sources, held-out sources fell inside 61 % of the time (TPU,
# two sources: 0 of 9); with 4 (otherwise the pooled band) 78 %, close to the 80 % a 10-90 % band claims.
MIN_BAND_SOURCES = 4
# Sources a family needs to stand on its own (be fitted around its documented prior, centred, and lend to its
# vendor's other families). Errors cluster by publication, so one source's rows are one look at the family's
# level however many they are, and leaving that source out leaves nothing to cross-validate against.
MIN_OWN_SOURCES = 2
CENTRE_ITERATIONS = 4  # the speed scale is ≈ c (fixed latencies do not scale): a few passes settle the median


@dataclass(frozen=True)
class Observation:
    """A prepared row and its measured value."""

    prep: Prepared
    measured: float
    row: Measurement

    @property
    def source(self) -> str:
        return self.row.source_group

    def log_error(self, predicted: float) -> float:
        """``log(pred/measured)``, sign-flipped for time-like metrics so positive always means 'the model
        is optimistic' (predicts faster than measured)."""
        e = math.log(predicted / self.measured)
        return -e if self.row.metric in TIME_LIKE_METRICS else e


@dataclass(frozen=True)
class FamilyFit:
    family: str
    eff: Efficiency
    rows: int
    sources: int
    cost: float


@dataclass
class Calibration:
    """Fitted families, cross-validated predictions per row, and the bands derived from them."""

    fits: dict[str, FamilyFit]
    priors: dict[str, Efficiency]
    cv_predictions: dict[str, float]  # row id -> out-of-sample prediction
    observations: list[Observation]
    skipped: dict[str, Skip]
    data: MeasurementSet
    bands: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)
    # Family -> what its prior was centred on, for families that do not stand on their own (module docstring).
    prior_centres: dict[str, str] = field(default_factory=dict)
    # (family, held-out source s) -> {row id of another source t: prediction of a fit without s and t}: the
    # out-of-sample errors a band for s may use without having seen s (leave-two-sources-out).
    nested_predictions: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def cv_log_errors(self) -> dict[str, list[tuple[str, float]]]:
        """Family -> [(metric kind, out-of-sample log error)]."""
        out: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for fam, rows in self.cv_residuals().items():
            out[fam] += [(kind, e) for kind, _, e in rows]
        return out

    def cv_residuals(self) -> dict[str, list[tuple[str, str, float]]]:
        """Family -> [(metric kind, source, out-of-sample log error)]."""
        out: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        for ob in self.observations:
            if ob.row.id in self.cv_predictions:
                out[ob.prep.family].append((ob.prep.kind, ob.source, ob.log_error(self.cv_predictions[ob.row.id])))
        return out

    def holdout_band(self, family: str, kind: str, source: str) -> tuple[float, float] | None:
        """The band a row of ``source`` gets when ``source`` is left out of the bands as well as the fit: the
        family's band from its other sources' out-of-sample errors (predicted by fits that saw neither them
        nor ``source``), else the pooled band of every other source (what a family without a band of its own
        ships). Checking measurements against these bands measures the bands' coverage out of sample."""
        residuals: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        for ob in self.observations:
            fam = ob.prep.family
            if ob.source == source or ob.row.id not in self.cv_predictions:
                continue
            nested = self.nested_predictions.get((fam, source))
            pred = nested[ob.row.id] if nested is not None else self.cv_predictions[ob.row.id]
            residuals[fam].append((ob.prep.kind, ob.source, ob.log_error(pred)))
        pooled = [e for rows in residuals.values() for _, _, e in rows]
        if not pooled:
            return None
        return family_bands(residuals.get(family, []), _quantile_band(pooled))[kind]

    def validated_families(self) -> frozenset[str]:
        """Families fitted on their own rows with at least :data:`MIN_BAND_ROWS` rows predicted out of sample."""
        return frozenset(
            fam
            for fam, rows in self.cv_residuals().items()
            if len(rows) >= MIN_BAND_ROWS and fam in self.fits and self.fits[fam].rows > 0
        )


def _vector(eff: Efficiency) -> np.ndarray:
    out: np.ndarray = np.log(np.array([getattr(eff, name) for name in FITTED], dtype=float))
    return out


def _efficiency(base: Efficiency, x: np.ndarray) -> Efficiency:
    values = {name: float(math.exp(v)) for name, v in zip(FITTED, x, strict=True)}
    return replace(base, **values)


def _clip_to_bounds(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.minimum(np.maximum(x, lo + 1e-9), hi - 1e-9)
    return out


def fit_family(observations: Sequence[Observation], prior: Efficiency, family: str, centred: bool = True) -> FamilyFit:
    """MAP fit of the six parameters of one family around ``prior`` (module docstring); ``prior`` itself when
    there are no rows. ``centred``: centre the fit on its rows' median (:func:`centre`), as for a family that
    stands on its own; a borrowing family keeps the level its prior pulls it to."""
    if not observations:
        return FamilyFit(family=family, eff=prior, rows=0, sources=0, cost=0.0)
    lo = np.log(np.array([BOUNDS[n][0] for n in FITTED]))
    hi = np.log(np.array([BOUNDS[n][1] for n in FITTED]))
    x0 = _clip_to_bounds(_vector(prior), lo, hi)

    def residuals(x: np.ndarray) -> np.ndarray:
        eff = _efficiency(prior, x)
        data = np.array([ob.log_error(predict(ob.prep, eff)) for ob in observations])
        return np.concatenate([data, (x - x0) / PRIOR_SIGMA])

    sol = least_squares(residuals, x0, bounds=(lo, hi), method="trf", diff_step=1e-4, max_nfev=400)
    return FamilyFit(
        family=family,
        eff=centre(observations, _efficiency(prior, sol.x)) if centred else _efficiency(prior, sol.x),
        rows=len(observations),
        sources=len({ob.source for ob in observations}),
        cost=float(sol.cost),
    )


def scale_speed(eff: Efficiency, c: float) -> Efficiency:
    """Efficiencies × ``c``, overheads ÷ ``c`` (kept within :data:`BOUNDS`): predicted speed × ≈ c."""
    scaled = {
        "compute": eff.compute * c,
        "memory": eff.memory * c,
        "collective": eff.collective * c,
        "layer_overhead_s": eff.layer_overhead_s / c,
        "step_overhead_s": eff.step_overhead_s / c,
    }
    return replace(eff, **{k: min(max(v, BOUNDS[k][0]), BOUNDS[k][1]) for k, v in scaled.items()})


def centre(observations: Sequence[Observation], eff: Efficiency) -> Efficiency:
    """``eff`` scaled (:func:`scale_speed`) so the median log error of ``observations`` is ≈ 0: the point
    estimate becomes the median of the rows it was fitted on (module docstring). With fewer than
    :data:`MIN_BAND_ROWS` rows the median estimates nothing (Trainium2's three rows disagree in sign: TTFT
    slower than predicted, TPOT faster), so ``eff`` is returned as fitted."""
    if len(observations) < MIN_BAND_ROWS:
        return eff
    for _ in range(CENTRE_ITERATIONS):
        median = float(np.median([ob.log_error(predict(ob.prep, eff)) for ob in observations]))
        if abs(median) < 1e-3:
            break
        eff = scale_speed(eff, math.exp(-median))
    return eff


def observe(data: MeasurementSet, catalog: Catalog) -> tuple[list[Observation], dict[str, Skip]]:
    """Map and prepare every row; rows that cannot be predicted are returned with the reason."""
    obs: list[Observation] = []
    skipped: dict[str, Skip] = {}
    rates = server_rates(data.rows)
    for row in data.rows:
        case = map_row(row, catalog, rates)
        if isinstance(case, Skip):
            skipped[row.id] = case
            continue
        prep = prepare(case, catalog)
        if isinstance(prep, Skip):
            skipped[row.id] = prep
            continue
        obs.append(Observation(prep=prep, measured=row.value, row=row))
    return obs, skipped


def _vendor_of(catalog: Catalog) -> dict[str, str]:
    """Family -> "vendor kind" of its chips: peers share the vendor and the kind of chip."""
    out: dict[str, str] = {}
    for chip in catalog.chips.values():
        out.setdefault(chip.family, f"{chip.vendor} {chip.kind}")
    return out


class _Hierarchy:
    """Fits of every family on its rows less a set of left-out sources, with priors centred as the module
    docstring says (own families: documented prior; the others: their lenders' fits on the same rows less the
    same sources). Memoised: the cross-validation folds of a lender serve its borrowers' folds too."""

    def __init__(self, by_family: dict[str, list[Observation]], priors: dict[str, Efficiency], catalog: Catalog):
        self.by_family = by_family
        self.priors = priors
        # Server replays are predicted, not fitted on: each one is a simulation, too slow inside a fit.
        self.fit_rows = {f: [ob for ob in rows if not ob.prep.replayed] for f, rows in by_family.items()}
        self.own = frozenset(
            f
            for f, rows in self.fit_rows.items()
            if len(rows) >= MIN_BAND_ROWS and len({ob.source for ob in rows}) >= MIN_OWN_SOURCES
        )
        self.vendor_of = _vendor_of(catalog)
        self.lenders: dict[str, list[str]] = {}
        for name in catalog.families:
            vendor = self.vendor_of.get(name, "")
            borrows = vendor and name not in self.own
            peers = [f for f in sorted(self.own) if self.vendor_of.get(f) == vendor] if borrows else []
            self.lenders[name] = peers
        self._cache: dict[tuple[str, frozenset[str]], FamilyFit] = {}

    def sources(self, family: str) -> frozenset[str]:
        """Sources a fit of ``family`` depends on: its rows' and, when it borrows, its lenders'."""
        out = {ob.source for ob in self.fit_rows.get(family, [])}
        for lender in self.lenders.get(family, []):
            out |= self.sources(lender)
        return frozenset(out)

    def prior(self, family: str, without: frozenset[str] = frozenset()) -> Efficiency:
        """The centre of ``family``'s prior when ``without`` is left out (module docstring)."""
        lenders = self.lenders.get(family, [])
        if not lenders:
            return self.priors[family]
        logs = np.mean([_vector(self.fit(f, without).eff) for f in lenders], axis=0)
        return _efficiency(self.priors[family], logs)

    def fit(self, family: str, without: frozenset[str] = frozenset()) -> FamilyFit:
        key = (family, without & self.sources(family))
        if key not in self._cache:
            rows = [ob for ob in self.fit_rows.get(family, []) if ob.source not in without]
            self._cache[key] = fit_family(rows, self.prior(family, without), family, centred=family in self.own)
        return self._cache[key]

    def centre_note(self, family: str) -> str:
        """What ``family``'s prior is centred on, for a family that does not stand on its own."""
        lenders = self.lenders.get(family, [])
        vendor = self.vendor_of.get(family, "")
        if lenders:
            return f"geometric mean of {vendor}'s fitted families ({', '.join(lenders)})"
        return f"its documented values (no {vendor or 'other'} family stands on its own)"


def calibrate(
    data: MeasurementSet,
    catalog: Catalog,
    cross_validate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit every family with data, cross-validate by leaving one source out, and derive error bands.

    ``catalog`` supplies the priors (load it with ``calibrated=False`` to start from the documented
    values). Families that do not stand on their own (module docstring) are fitted around the geometric mean
    of their vendor's families that do, or around their prior when the vendor has none; without rows they
    take that centre as it is. Either way they stay unvalidated.
    """
    obs, skipped = observe(data, catalog)
    priors = {name: Efficiency.from_family(fam) for name, fam in catalog.families.items()}
    by_family: dict[str, list[Observation]] = defaultdict(list)
    for ob in obs:
        by_family[ob.prep.family].append(ob)
    h = _Hierarchy(by_family, priors, catalog)
    fits: dict[str, FamilyFit] = {}
    # The families that stand on their own first: the others' priors are centred on them.
    for family, rows in sorted(by_family.items(), key=lambda kv: (kv[0] not in h.own, kv[0])):
        if progress:
            progress(f"fitting {family} on {len(rows)} rows")
        fits[family] = h.fit(family)
    cv: dict[str, float] = {}
    if cross_validate:
        for family, rows in sorted(by_family.items()):
            sources = sorted({ob.source for ob in rows})
            for src in sources:  # with one source, the fold fits on nothing and predicts with its prior centre
                if progress:
                    progress(f"cross-validating {family}: leaving out {src}")
                fold = h.fit(family, frozenset({src}))
                for ob in rows:
                    if ob.source == src:
                        cv[ob.row.id] = predict(ob.prep, fold.eff)
    cal = Calibration(fits=fits, priors=priors, cv_predictions=cv, observations=obs, skipped=skipped, data=data)
    if cross_validate:
        cal.nested_predictions = _nested_predictions(h, progress)
    cal.bands = error_bands(cal)
    cal.prior_centres = {name: h.centre_note(name) for name in catalog.families if name not in h.own}
    cal.fallbacks = _fallbacks(cal, catalog, h)
    return cal


def _nested_predictions(
    h: _Hierarchy, progress: Callable[[str], None] | None
) -> dict[tuple[str, str], dict[str, float]]:
    """For each family and pair of its sources {s, t}: refit without both, predict both (see
    :attr:`Calibration.nested_predictions`)."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for family, rows in sorted(h.by_family.items()):
        sources = sorted({ob.source for ob in rows})
        for i, s in enumerate(sources):
            for t in sources[i + 1 :]:
                if progress:
                    progress(f"checking {family}'s bands: leaving out {s} and {t}")
                fold = h.fit(family, frozenset({s, t}))
                for ob in rows:
                    if ob.source in (s, t):
                        other = t if ob.source == s else s
                        out[(family, other)][ob.row.id] = predict(ob.prep, fold.eff)
    return dict(out)


def _quantile_band(errors: Sequence[float]) -> tuple[float, float]:
    """Speed factors (low, high) covering the 10th-90th percentile of log errors ``e`` (``log(pred/measured)``
    of speed, see :meth:`Observation.log_error`): measured speed ∈ [pred·exp(−q90), pred·exp(−q10)]."""
    q10, q90 = np.quantile(np.array(errors), [0.1, 0.9])
    return float(math.exp(-q90)), float(math.exp(-q10))


def _enough(residuals: Sequence[tuple[str, str, float]]) -> bool:
    return len(residuals) >= MIN_BAND_ROWS and len({src for _, src, _ in residuals}) >= MIN_BAND_SOURCES


def family_bands(
    residuals: Sequence[tuple[str, str, float]], fallback: tuple[float, float]
) -> dict[str, tuple[float, float]]:
    """Bands per metric kind from one family's (kind, source, out-of-sample log error) triples: a kind with
    enough rows and sources its own, else the family's pooled band when the family has enough, else
    ``fallback`` (the pooled band of every family)."""
    family = _quantile_band([e for _, _, e in residuals]) if _enough(residuals) else fallback
    out: dict[str, tuple[float, float]] = {}
    for kind in KINDS:
        ks = [r for r in residuals if r[0] == kind]
        out[kind] = _quantile_band([e for _, _, e in ks]) if _enough(ks) else family
    return out


def error_bands(cal: Calibration) -> dict[str, dict[str, tuple[float, float]]]:
    """Per family and metric kind, from out-of-sample errors (:func:`family_bands`), for the families with
    enough rows and sources for a band of their own; the others ship :func:`pooled_band`."""
    bands: dict[str, dict[str, tuple[float, float]]] = {}
    for family, residuals in cal.cv_residuals().items():
        if _enough(residuals):
            bands[family] = family_bands(residuals, (math.nan, math.nan))
    return bands


def pooled_band(cal: Calibration) -> dict[str, tuple[float, float]]:
    """The band over every family's out-of-sample errors, for families that have none of their own."""
    errs = [e for fam in cal.cv_log_errors().values() for _, e in fam]
    if not errs:
        return {}
    band = _quantile_band(errs)
    return dict.fromkeys(KINDS, band)


def _fallbacks(cal: Calibration, catalog: Catalog, h: _Hierarchy) -> dict[str, str]:
    """Families without rows take their prior centre (:meth:`_Hierarchy.prior`) as it is: the geometric mean
    of their vendor's families that stand on their own (only those lend: a borrowed or thin fit must not count
    as a peer of the next family), else their documented prior."""
    out: dict[str, str] = {}
    for name in catalog.families:
        if name in cal.fits:
            continue
        cal.fits[name] = h.fit(name)
        if h.lenders.get(name):
            out[name] = f"no measurements; {h.centre_note(name)}"
        else:
            out[name] = "no measurements and no fitted family of the same vendor: documented prior kept"
    return out


def is_validated(cal: Calibration, family: str) -> bool:
    """Fitted on this family's own rows and checked out of sample (:meth:`Calibration.validated_families`)."""
    return family in cal.validated_families()


def overlay(cal: Calibration, catalog: Catalog, data_label: str) -> dict[str, Any]:
    """The fitted families as a catalog overlay, with provenance, ready to write as YAML."""
    ref = f"chipfleet calibrate --data {data_label} (sha256 {cal.data.sha256})"
    # A fit of the shipped data is the shipped fit: its source id, and the date it was first made, so refitting is
    # reproducible and the overlay loads over the shipped file (which defines this source) without a clash. A fit
    # of other data is another source: an id of its own (the data's hash), so it loads over the shipped file too.
    shipped = default_catalog().sources.get("chipfleet-calibration")
    same_data = shipped is not None and cal.data.sha256 in shipped.ref
    sid = "chipfleet-calibration" if same_data else f"chipfleet-calibration-{cal.data.sha256[:12]}"
    known = catalog.sources.get(sid) or default_catalog().sources.get(sid)
    source = {
        "ref": ref,
        "as_of": known.as_of if known is not None and known.ref == ref else dt.date.today().isoformat(),
        "title": "per-family efficiency parameters fitted by chipfleet on published measurements",
    }
    pooled = pooled_band(cal)
    families: list[dict[str, Any]] = []
    for name in sorted(catalog.families):
        fit = cal.fits.get(name)
        if fit is None:
            continue
        prior = cal.priors[name]
        validated = is_validated(cal, name)
        centre_on = cal.prior_centres.get(name)
        rows_text = f"{_plural(fit.rows, 'row')} from {_plural(fit.sources, 'source')}"
        if not fit.rows:
            how = cal.fallbacks.get(name, "")
        elif centre_on is None:
            how = f"fitted on {rows_text} by log-error least squares with a factor-2 log-normal prior"
        else:
            how = (
                f"fitted on {rows_text}, too few to stand on their own, by log-error least squares with a "
                f"factor-2 log-normal prior centred on {centre_on}"
            )
        method = (
            "MAP least squares on log error, factor-2 log-normal prior, centred on the median; LOSO cross-validation"
            if centre_on is None
            else f"MAP least squares on log error, factor-2 log-normal prior centred on {centre_on}; "
            "LOSO cross-validation"
        )

        def fig(attr: str, unit: str, scale: float, field: str) -> dict[str, Any]:
            return _figure(getattr(fit.eff, attr) / scale, getattr(prior, attr) / scale, unit, how, sid, field)  # noqa: B023

        rec: dict[str, Any] = {
            "name": name,
            "compute_efficiency": fig("compute", "ratio", 1.0, "compute_efficiency"),
            "compute_half_rows": fig("compute_half_rows", "count", 1.0, "compute_half_rows"),
            "memory_efficiency": fig("memory", "ratio", 1.0, "memory_efficiency"),
            "collective_efficiency": fig("collective", "ratio", 1.0, "collective_efficiency"),
            "layer_overhead": fig("layer_overhead_s", "us", 1e-6, "layer_overhead"),
            "step_overhead": fig("step_overhead_s", "ms", 1e-3, "step_overhead"),
            "validated": validated,
            "calibration": {
                "data": data_label,
                "data_sha256": cal.data.sha256,
                "date": source["as_of"],
                "rows": fit.rows,
                "sources": fit.sources,
                "method": method,
                "fallback": "" if fit.rows else cal.fallbacks.get(name, ""),
            },
        }
        bands = cal.bands.get(name) or pooled
        if bands:
            rec["error_bands"] = {k: [float(f"{lo:.4g}"), float(f"{hi:.4g}")] for k, (lo, hi) in bands.items()}
        families.append(rec)
    return {
        "schema_version": 1,
        "sources": {sid: source},
        "families": families,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _figure(value: float, prior: float, unit: str, how: str, sid: str, field: str) -> dict[str, Any]:
    return {
        "value": float(f"{value:.4g}"),
        "unit": unit,
        "source": sid,
        "basis": "derived",
        "note": f"{how}; documented prior {prior:.4g} {unit} (families.yaml `{field}`)",
    }


def write_overlay(cal: Calibration, catalog: Catalog, path: str | Path, data_label: str) -> Path:
    p = Path(path)
    header = (
        "# Fitted efficiency parameters: generated by `chipfleet calibrate`; do not edit by hand.\n"
        "# Reproduce with `make calibrate`. Each figure's note gives its prior and how it was fitted.\n"
    )
    text = header + yaml.safe_dump(overlay(cal, catalog, data_label), sort_keys=False, width=110)
    return atomic_write_text(p, text)
