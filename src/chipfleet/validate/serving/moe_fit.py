"""The routed experts' grouped-GEMM fraction fitted on serving records, cross-validated by hardware × engine group."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.perf.iteration import IterationModel
from chipfleet.validate.serving.predict import ServingCase, map_record, metric_value, predict_case
from chipfleet.validate.serving.records import RecordSet

# Candidate fractions: the dense rate (1) down to a tenth of it.
FRACTION_GRID: tuple[float, ...] = (1.0, 0.5, 0.4, 1 / 3, 0.3, 0.25, 0.2, 1 / 6, 0.15, 0.125, 0.1)
FIT_METRIC = "mean_ttft"  # prefill time shows in TTFT; TPOT is reported beside it
SLOPE_MAX_CLIENTS = 16  # low load: a prompt's TTFT is mostly its own prefill


@dataclass(frozen=True)
class GroupFold:
    """One hardware × engine group held out: the fraction fitted on the other groups and the group's error."""

    group: str
    rows: int
    fraction: float  # chosen on the other groups
    ttft_ape: float  # held-out median APE of mean TTFT
    tpot_ape: float  # held-out median APE of mean TPOT
    ttft_ape_dense_rate: float  # the same with fraction 1 (routed experts at the dense rate)
    tpot_ape_dense_rate: float


@dataclass(frozen=True)
class GroupedGemmFit:
    """The fraction chosen on all MoE runs, each candidate's median APE, and the leave-one-group-out folds."""

    fraction: float
    by_fraction: dict[float, tuple[float, float, float]]  # fraction → median APE of the prefill slope, mean TTFT, TPOT
    folds: tuple[GroupFold, ...]
    ttft_ape_cv: float  # median APE of mean TTFT over every held-out row
    tpot_ape_cv: float


def _with_fraction(case: ServingCase, fraction: float) -> ServingCase:
    it = case.iteration
    rebuilt = IterationModel(
        case.model,
        it.hw,
        case.tp,
        case.precision,
        host=it.host,
        engine=it.engine,
        ep=it.cfg.ep,
        dp_attention=it.cfg.dp_attention,
        grouped_gemm_fraction=fraction,
    )
    return replace(case, iteration=rebuilt)


def _predicted(case: ServingCase) -> dict[str, float]:
    """The record's mean TTFT and mean TPOT as predicted (the keys it has)."""
    res = predict_case(case)
    out: dict[str, float] = {}
    for metric, _ in case.record.results:
        if metric in (FIT_METRIC, "mean_tpot"):
            pred = metric_value(metric, case, res)
            if pred is not None and math.isfinite(pred):
                out[metric] = pred
    return out


def _slopes(cases: Sequence[ServingCase], ttft: Sequence[float | None]) -> dict[tuple[str, ...], float]:
    """Per configuration at low concurrency: the TTFT of 8k prompts minus that of 1k prompts (same output length),
    medians over repeated runs, keyed by configuration. The difference is the longer prompt's extra prefill; what
    TTFT holds whatever the prompt (request handling, the iteration in flight) cancels out."""
    by: dict[tuple[str, ...], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for c, t in zip(cases, ttft, strict=True):
        r = c.record
        if t is None or r.concurrency is None or r.concurrency > SLOPE_MAX_CLIENTS:
            continue
        config = (r.tp, r.ep, r.dp_attention, r.concurrency, r.output_tokens)
        key: tuple[str, ...] = (r.hw, r.framework, r.model, r.precision, *map(str, config))
        by[key][r.input_tokens].append(t)
    out: dict[tuple[str, ...], float] = {}
    for key, per_isl in by.items():
        if len(per_isl) >= 2:
            lo, hi = min(per_isl), max(per_isl)
            if hi >= 4 * lo:
                out[key] = float(np.median(per_isl[hi]) - np.median(per_isl[lo]))
    return out


def fit_grouped_gemm_fraction(
    records: RecordSet, catalog: Catalog, grid: Sequence[float] = FRACTION_GRID
) -> GroupedGemmFit:
    """For each candidate ``g`` predict every MoE record (:class:`IterationModel` with ``grouped_gemm_fraction=g``)
    and take the ``g`` of least median APE of the prefill slope (:func:`_slopes`: the TTFT of 8k prompts minus
    that of 1k prompts at up to :data:`SLOPE_MAX_CLIENTS` clients, measured against predicted); cross-validate by
    holding each hardware × engine group out and choosing ``g`` on the others. Records of dense models, and those
    that cannot be expressed, are left out."""
    cases = [c for c in (map_record(r, catalog) for r in records.records) if isinstance(c, ServingCase)]
    cases = [c for c in cases if c.model.is_moe]
    groups = [f"{c.record.hw}×{c.record.framework}" for c in cases]
    preds = {g: [_predicted(_with_fraction(c, g)) for c in cases] for g in grid}
    measured = _slopes(cases, [dict(c.record.results).get(FIT_METRIC) for c in cases])
    slope_apes = {}
    for g in grid:
        predicted = _slopes(cases, [p.get(FIT_METRIC) for p in preds[g]])
        slope_apes[g] = {k: abs(predicted[k] - m) / abs(m) for k, m in measured.items() if k in predicted and m > 0}

    def slope_median(g: float, drop: str | None = None) -> float:
        vals = [v for k, v in slope_apes[g].items() if f"{k[0]}×{k[1]}" != drop]
        return float(np.median(vals)) if vals else math.inf

    def median(g: float, metric: str, keep: str | None = None) -> float:
        vals = []
        for c, p, grp in zip(cases, preds[g], groups, strict=True):
            m = dict(c.record.results).get(metric)
            if m and metric in p and (keep is None or grp == keep):
                vals.append(abs(p[metric] - m) / m)
        return float(np.median(vals)) if vals else math.nan

    by_fraction = {g: (slope_median(g), median(g, FIT_METRIC), median(g, "mean_tpot")) for g in grid}
    best = min(grid, key=slope_median)
    folds = []
    held: dict[str, list[float]] = defaultdict(list)
    for group in sorted(set(groups)):
        chosen = min(grid, key=lambda g: slope_median(g, drop=group))
        folds.append(
            GroupFold(
                group=group,
                rows=groups.count(group),
                fraction=chosen,
                ttft_ape=median(chosen, FIT_METRIC, keep=group),
                tpot_ape=median(chosen, "mean_tpot", keep=group),
                ttft_ape_dense_rate=median(1.0, FIT_METRIC, keep=group) if 1.0 in preds else math.nan,
                tpot_ape_dense_rate=median(1.0, "mean_tpot", keep=group) if 1.0 in preds else math.nan,
            )
        )
        for c, p, grp in zip(cases, preds[chosen], groups, strict=True):
            for metric in (FIT_METRIC, "mean_tpot"):
                m = dict(c.record.results).get(metric)
                if grp == group and m and metric in p:
                    held[metric].append(abs(p[metric] - m) / m)
    return GroupedGemmFit(
        fraction=best,
        by_fraction=by_fraction,
        folds=tuple(folds),
        ttft_ape_cv=float(np.median(held[FIT_METRIC])) if held[FIT_METRIC] else math.nan,
        tpot_ape_cv=float(np.median(held["mean_tpot"])) if held["mean_tpot"] else math.nan,
    )
