"""Prefill and decode pool candidates for a disaggregated plan: per allowed (instance type, tp, precision, max batch)
the request rate one prefill worker and one decode worker sustain per length bucket within the p90 SLOs.

A **prefill worker** runs prefill-only iterations (:class:`chipfleet.perf.iteration.IterationModel` with no
decoding sequences): prompts of a bucket arrive as a Poisson stream of rate λ and are gathered into chunks of
``c = min(B, E[I]·max(1, g/(1 − e^−g)))`` tokens, ``g = λ·t(E[I])`` (the prompts that arrived during the last
iteration), each iteration taking ``t_p = t(0, c)``. The worker is busy a share ``φ = λ·E[I]·t_p/c``; prompts
queue as an M/G/1 queue in time (Pollaczek–Khinchine, ``W = λ·E[I²]·(t_p/c)²/(2(1 − φ))``, the p-quantile from
the exponential tail ``W·ln(φ/(1 − p))/φ``, as :mod:`chipfleet.perf.batching`), so
``TTFT_prefill = φ·t_p/2 + W_p + ⌈I90/B⌉·t(min(B, max(c, I90)))``. The request's TTFT adds the KV-cache transfer
of its prompt to the decode worker (:func:`chipfleet.perf.kv_transfer.kv_link`, pair-dependent, so a prefill
candidate keeps its whole curve and :func:`prefill_capacity` reads it per link) and its joining the decode batch
(at most one decode iteration, bounded by the TPOT SLO).

A **decode worker** runs decode-only iterations of ``d`` sequences over ``d·(E[I] + E[O]/2)`` cached tokens:
``TPOT = t(d)/τ`` (``τ`` the tokens per step), a request's p-quantile TPOT ``TPOT + z_p·σ/√(E[O] − 1)`` with
``σ = t(d + √d) − t(d)`` (the batch size fluctuating Poisson-like), and Little's law gives the rate
``λ = d / ((E[O] − 1)·TPOT)``. Feasible while the p90 of the sequences held (``d + 1.28·√d``) is within the
sequence limit and their mean context within the KV cache, and the bucket's longest request fits it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Catalog, Instance, Precision
from chipfleet.economics.costing import instance_power_w
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.batching import GRID_MIN_DECODING, GRID_POINTS, Z90, SizeClass, kv_safe_max_seqs
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.inference import valid_tp_degrees
from chipfleet.perf.iteration import IterationModel
from chipfleet.plan.serve.buckets import Bucket, size_classes
from chipfleet.plan.serve.capacity import TP_MISMATCH, _allowed
from chipfleet.plan.serve.spec import FLEET_QUANTILE, ServeConstraints, ServeSLO
from chipfleet.sim.serving import ServeOptions, replica_shape
from chipfleet.workloads import ModelArch

FloatArray = NDArray[np.float64]
PREFILL = "prefill"
DECODE = "decode"


@dataclass(frozen=True)
class PoolCandidate:
    """One configuration of an instance type as a prefill or a decode worker, with its capacity per bucket.

    Decode: ``capacity_per_replica`` is within the TPOT SLO. Prefill: it depends on the link to the decode
    worker (the transfer takes part of the TTFT SLO), so the candidate keeps its curve: per bucket, the rate
    grid, the modelled prefill-side p-quantile TTFT there and the busy share (:func:`prefill_capacity`)."""

    role: str  # PREFILL or DECODE
    instance: str
    cloud: str
    chip: str
    vendor: str
    tp: int
    precision: Precision
    kv_precision: Precision
    max_seqs: int
    replicas_per_instance: int
    kv_capacity_tokens: int
    static_power_w: float  # per instance: chips idle plus the host
    busy_power_w_per_chip: float  # TDP − idle
    validated: bool
    capacity_per_replica: tuple[float, ...] = ()  # decode: requests/s per bucket within the TPOT SLO
    busy_fraction: tuple[float, ...] = ()  # decode: the chips' busy share at that rate
    tpot_p90_s: tuple[float, ...] = ()  # decode: modelled at that rate
    best_effort_capacity: tuple[float, ...] = ()  # decode: the highest stable rate, no latency bound
    # prefill: the operating curve, (buckets, grid points)
    rate_grid: tuple[tuple[float, ...], ...] = ()
    ttft_grid: tuple[tuple[float, ...], ...] = ()
    busy_grid: tuple[tuple[float, ...], ...] = ()

    __json_omit__: ClassVar[tuple[str, ...]] = ("rate_grid", "ttft_grid", "busy_grid")

    @property
    def label(self) -> str:
        return f"{self.instance} tp={self.tp} {self.precision.value} max-batch {self.max_seqs}"


def pool_candidates(
    model: ModelArch,
    buckets: Sequence[Bucket],
    slo: ServeSLO,
    catalog: Catalog,
    constraints: ServeConstraints,
    rejected: Counter[str] | None = None,
    quantile: float = FLEET_QUANTILE,
) -> tuple[list[PoolCandidate], list[PoolCandidate]]:
    """(prefill candidates, decode candidates): every allowed configuration that holds the model, in each role."""
    rejected = rejected if rejected is not None else Counter()
    loads = size_classes(buckets)
    prefill: list[PoolCandidate] = []
    decode: list[PoolCandidate] = []
    for inst in _allowed(catalog, constraints, rejected):
        hw = hardware_for(catalog, inst)
        degrees = [t for t in valid_tp_degrees(model, hw) if not constraints.tp or t in constraints.tp]
        if not degrees:
            rejected[TP_MISMATCH] += 1
        for prec in constraints.precisions:
            for tp in degrees:
                opts = ServeOptions(max_batch_tokens=constraints.max_batch_tokens, tp=tp, precision=prec)
                try:
                    _, kv = replica_shape(model, hw, opts)
                except (DoesNotFitError, ConfigError):
                    rejected["model does not fit at that tp"] += 1
                    continue
                it = IterationModel(model, hw, tp, prec)
                base = _base(catalog, inst, tp, prec, it.cfg.kv_dtype, kv)
                rates, ttft, busy = prefill_curve(it, constraints.max_batch_tokens, kv, loads, quantile)
                too_long = np.array([b.context_max > kv for b in buckets])
                rates = np.where(too_long[:, None], 0.0, rates)
                prefill.append(replace(base, rate_grid=_rows(rates), ttft_grid=_rows(ttft), busy_grid=_rows(busy)))
                for seqs in constraints.max_seqs:
                    limit = kv_safe_max_seqs(seqs, kv, loads)
                    cap, busy_d, tpot, anyhow = decode_capacity(it, limit, kv, loads, slo.tpot_p90_s, quantile)
                    decode.append(
                        replace(
                            base, role=DECODE, max_seqs=seqs,
                            capacity_per_replica=_floats(np.where(too_long, 0.0, cap)), busy_fraction=_floats(busy_d),
                            tpot_p90_s=_floats(tpot),
                            best_effort_capacity=_floats(np.where(too_long, 0.0, anyhow)),
                        )
                    )  # fmt: skip
    return prefill, decode


def _base(catalog: Catalog, inst: Instance, tp: int, prec: Precision, kv_prec: Precision, kv: int) -> PoolCandidate:
    """The configuration as a prefill worker with no capacities yet (decode ones are made from it by ``replace``)."""
    hw = hardware_for(catalog, inst)
    power = instance_power_w(catalog, inst)
    return PoolCandidate(
        role=PREFILL,
        instance=inst.name,
        cloud=inst.cloud.value,
        chip=inst.chip,
        vendor=catalog.chip(inst.chip).vendor,
        tp=tp,
        precision=prec,
        kv_precision=kv_prec,
        max_seqs=0,
        replicas_per_instance=hw.chips_per_instance // tp,
        kv_capacity_tokens=kv,
        static_power_w=power.power_w(0.0),
        busy_power_w_per_chip=power.chip_tdp_w - power.chip_idle_w,
        validated=hw.validated,
    )


def prefill_curve(
    it: IterationModel, max_batch_tokens: int, kv_tokens: int, load: SizeClass, quantile: float = FLEET_QUANTILE
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(rate, prefill-side p-quantile TTFT, busy share) of one prefill worker over a grid of request rates per
    size class, shape (classes, grid points) (module docstring). Infinite TTFT where unstable or the prompts
    held (queued, running, waiting for transfer) overflow the KV cache."""
    tail = 1.0 - quantile
    budget = float(max_batch_tokens)
    i_mean = load.input_mean[:, None]
    i_sq = load.input_sq_mean[:, None]
    i90 = load.input_p90[:, None]
    keys = i_sq / i_mean / 2.0  # a prompt token attends half its (size-biased) prompt

    def t_prefill(chunk: FloatArray) -> tuple[FloatArray, FloatArray]:
        zero = np.zeros_like(chunk)
        return it.times(zero, zero, chunk, chunk * keys, chunk / i_mean)

    full, _ = t_prefill(np.full_like(i_mean, budget))
    alone, _ = t_prefill(np.minimum(budget, i_mean))
    # The highest rate: every iteration a full chunk (or, for prompts longer than the budget, back to back).
    top = budget / (i_mean * full)
    rate = top * np.geomspace(1e-4, 1.0 - 1e-6, GRID_POINTS)[None, :]
    gathered = np.maximum(rate * alone, 1e-12)
    chunk = np.minimum(budget, i_mean * np.maximum(1.0, gathered / -np.expm1(-gathered)))
    t_p, busy_p = t_prefill(chunk)
    phi = rate * i_mean * t_p / chunk
    stable = phi < 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(stable, rate * i_sq * (t_p / chunk) ** 2 / (2.0 * (1.0 - phi)), np.inf)
        w_q = np.where(phi > tail, wait * np.log(np.maximum(phi, tail) / tail) / phi, 0.0)
    own, _ = t_prefill(np.minimum(budget, np.maximum(chunk, i90)))
    ttft = np.minimum(phi, 1.0) * t_p / 2.0 + w_q + np.ceil(i90 / budget) * own
    held = rate * (wait + i_mean * t_p / chunk)
    fits = (held + Z90 * np.sqrt(held)) * i_mean + chunk <= kv_tokens
    ttft = np.where(stable & fits, ttft, np.inf)
    return rate, ttft, np.minimum(phi, 1.0) * busy_p / t_p


def decode_capacity(
    it: IterationModel,
    max_seqs: FloatArray,
    kv_tokens: int,
    load: SizeClass,
    slo_tpot_p90_s: float,
    quantile: float = FLEET_QUANTILE,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per size class: (requests/s one decode worker sustains within the TPOT SLO, its busy share there, the
    modelled p-quantile TPOT there, the highest stable rate with no latency bound) (module docstring)."""
    z = NormalDist().inv_cdf(quantile)
    seqs = np.asarray(max_seqs, dtype=np.float64).reshape(-1)[:, None]
    d = np.geomspace(GRID_MIN_DECODING, float(seqs.max()), GRID_POINTS)[None, :] + np.zeros((len(load), 1))
    per_seq = load.input_mean[:, None] + load.output_mean[:, None] / 2.0
    zero = np.zeros_like(d)
    t_d, busy = it.times(d, d * per_seq, zero, zero, zero)
    spread = d + np.sqrt(d)
    t_hi, _ = it.times(spread, spread * per_seq, zero, zero, zero)
    n_out = np.maximum(load.output_mean[:, None] - 1.0, 1.0)
    tpot = t_d / it.tokens_per_step
    tpot_q = tpot + z * (t_hi - t_d) / it.tokens_per_step / np.sqrt(n_out)
    rate = d / (n_out * tpot)
    held90 = d + Z90 * np.sqrt(d)
    feasible = (held90 <= seqs) & (held90 * per_seq <= kv_tokens)
    feasible &= load.input_p90[:, None] + load.output_mean[:, None] <= kv_tokens
    ok = feasible & (tpot_q <= slo_tpot_p90_s)
    rows = np.arange(d.shape[0])
    at = np.argmax(np.where(ok, rate, -1.0), axis=1)
    met = ok[rows, at]
    anyhow = np.where(feasible, rate, 0.0).max(axis=1)
    return (
        np.where(met, rate[rows, at], 0.0),
        np.where(met, busy[rows, at] / t_d[rows, at], 0.0),
        np.where(met, tpot_q[rows, at], np.nan),
        anyhow,
    )


def prefill_capacity(candidate: PoolCandidate, ttft_budget_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per bucket: (the highest request rate one prefill worker sustains with its prefill-side TTFT within
    ``ttft_budget_s`` (the SLO less the transfer and the decode join; ∞: best effort), its busy share there)."""
    rates = np.array(candidate.rate_grid)
    ttft = np.array(candidate.ttft_grid)
    busy = np.array(candidate.busy_grid)
    ok = (ttft <= np.asarray(ttft_budget_s, dtype=np.float64)[:, None]) & (rates > 0)
    rows = np.arange(rates.shape[0])
    at = np.argmax(np.where(ok, rates, -1.0), axis=1)
    met = ok[rows, at]
    return np.where(met, rates[rows, at], 0.0), np.where(met, busy[rows, at], 0.0)


def _rows(a: FloatArray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in a)


def _floats(a: FloatArray) -> tuple[float, ...]:
    return tuple(float(v) for v in a)
