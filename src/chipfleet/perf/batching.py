"""Steady-state continuous batching on one replica: the request rate it sustains and the latency it gives.

A replica runs vLLM-style iterations (chunked prefill, as :mod:`chipfleet.sim.serving.simulate` simulates): every
iteration carries one token of each of the ``d`` sequences decoding; iterations that find prompts waiting
also carry up to ``B − d`` prompt tokens (``B`` the token budget). Requests of one size class arrive as a
Poisson stream of rate λ with prompt length ``I`` and output length ``O``. The model is parametrised by the
mean number ``d`` of decoding sequences, which gives every other quantity in closed form:

- ``T_d = t(d, 0)``: a decode-only iteration; ``T_p = t(d, c)``: one that also runs ``c`` prompt tokens
  (``t`` is :class:`chipfleet.perf.iteration.IterationModel`, the simulator's own roofline).
- Prefill iterations take a share ``φ = λ·E[I]·T_p / c`` of the time (the prompt tokens that arrive must be
  run). Each sequence gets a token per iteration, so ``TPOT = 1 / (φ/T_p + (1 − φ)/T_d)``.
- Little's law for the decoding sequences: ``d = λ·(E[O] − 1)·TPOT``.
- The chunk ``c = min(B − d, E[I]·max(1, g/(1 − e^−g)))``: the prompts that arrived during the previous
  prefill iteration, ``g = λ·t(d, E[I])`` on average, at least one. TPOT grows with λ, so Little's law has
  one root in λ for each ``d``, found by bisection.
- Prompts queue for prefill as an M/G/1 queue in time, each prompt of ``I`` tokens needing
  ``I·T_p/c`` seconds: Pollaczek–Khinchine gives the mean wait ``W = λ·E[I²]·(T_p/c)² / (2(1 − φ))``, and
  the p90 wait is taken from the exponential tail ``P(wait > w) ≈ φ·exp(−φ·w/W)`` (Kingman's heavy-traffic
  form): ``W90 = W·ln(10φ)/φ`` for ``φ > 0.1``, else 0.
- ``TTFT90 = residual of the iteration in flight + W90 + ⌈I90/(B − d)⌉·T_p``, the last term the prompt's
  own chunks (``I90`` the class's 90th-percentile prompt).
- Feasible only while ``φ < 1`` and the 90th percentile of the requests held (decoding, queued for prefill
  and prefilling, taken as Poisson-like around its mean) is within the sequence limit, and those requests'
  mean context fits the KV cache.
- ``TPOT90``: a request's TPOT is the mean of its ``E[O] − 1`` iterations; a share ``q`` carry prompt tokens
  (a zero-truncated Poisson number of prompts, so the chunk varies too). With iterations independent,
  ``TPOT90 = TPOT + 1.2816·σ_iteration/√(E[O] − 1)``.
- :func:`kv_safe_max_seqs`: the sequence limit a replica should run with, at most as many sequences as its
  KV cache holds at full context (``E[I²]/E[I] + E[O]`` tokens each, prompts size-biased). With more,
  decode growth overflows the cache and the runtime preempts and recomputes (vLLM does), which a burst turns
  into a storm that does not clear.

What this leaves out (the planner replays its result in the simulator, which has none of these
simplifications, and tightens capacities where the replay misses): preemption, prefix caching, arrivals
burstier than Poisson, and, unless the caller blends them into one class, other size classes sharing the
replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from chipfleet.perf.iteration import IterationModel

Z90 = 1.2815515655446004  # standard normal 90th percentile
GRID_POINTS = 256
BISECTION_STEPS = 40
GRID_MIN_DECODING = 0.01

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SizeClass:
    """Requests of one size class (arrays: one entry per class), as the capacity model needs them."""

    input_mean: FloatArray
    input_sq_mean: FloatArray  # E[I²]
    input_p90: FloatArray
    output_mean: FloatArray

    def __post_init__(self) -> None:
        for name in ("input_mean", "input_sq_mean", "input_p90", "output_mean"):
            arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            object.__setattr__(self, name, arr)
        if np.any(self.input_mean < 1) or np.any(self.output_mean < 1):
            raise ValueError("size classes need at least one prompt token and one output token on average")

    def __len__(self) -> int:
        return int(self.input_mean.size)


@dataclass(frozen=True)
class ReplicaLimits:
    """The batching limits of a replica: token budget per iteration, sequences (one limit, or one per size
    class), KV-cache tokens."""

    max_batch_tokens: int
    max_seqs: int | FloatArray
    kv_capacity_tokens: int


def kv_safe_max_seqs(max_seqs: int, kv_capacity_tokens: int, load: SizeClass) -> FloatArray:
    """``min(max_seqs, ⌊KV tokens ÷ (E[I²]/E[I] + E[O])⌋)``, at least 1: the sequences the KV cache holds at
    full context, with prompts size-biased (long prompts stay longest in the cache)."""
    fit = np.floor(kv_capacity_tokens / (load.input_sq_mean / load.input_mean + load.output_mean))
    return np.clip(fit, 1.0, max_seqs)


@dataclass(frozen=True)
class OperatingCurve:
    """Every quantity over the grid of decoding-sequence counts, shape (classes, grid points)."""

    decoding: FloatArray
    rate_per_s: FloatArray
    ttft_p90_s: FloatArray
    tpot_p90_s: FloatArray
    tpot_mean_s: FloatArray
    busy_fraction: FloatArray
    feasible: NDArray[np.bool_]  # stable and within the sequence and KV limits


def operating_curve(
    it: IterationModel, limits: ReplicaLimits, load: SizeClass, quantile: float = 0.9
) -> OperatingCurve:
    """The replica's steady state at each mean number of decoding sequences (see the module docstring).

    ``quantile`` is the latency percentile the ``ttft_p90_s``/``tpot_p90_s`` fields give (0.9: the p90). At
    another quantile ``q`` the prefill wait is ``W·ln(φ/(1 − q))/φ`` and the TPOT term uses ``z_q``; the
    prompt's own chunks still use the class's p90 prompt (buckets span a factor of two, so close to it).
    """
    if not 0.5 <= quantile < 1.0:
        raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
    z = NormalDist().inv_cdf(quantile)
    tail = 1.0 - quantile
    seqs = np.broadcast_to(np.asarray(limits.max_seqs, dtype=np.float64), (len(load),))[:, None]
    d = np.geomspace(GRID_MIN_DECODING, float(seqs.max()), GRID_POINTS)[None, :]
    zero = np.zeros((len(load), d.size))
    d = d + zero
    i_mean = load.input_mean[:, None] + zero
    i_sq = load.input_sq_mean[:, None]
    i90 = load.input_p90[:, None]
    n_out = np.maximum(load.output_mean[:, None] - 1.0, 1.0)
    ctx = d * (load.input_mean[:, None] + load.output_mean[:, None] / 2.0)
    room = limits.max_batch_tokens - d
    budget = np.maximum(room, 1.0)
    keys_per_token = i_sq / i_mean / 2.0  # a prompt token attends half its (size-biased) prompt
    t_d, busy_d = it.times(d, ctx, zero, zero, zero)
    t_one, _ = _iteration(it, d, ctx, np.minimum(budget, i_mean), keys_per_token, i_mean)

    def state(rate: FloatArray) -> tuple[FloatArray, ...]:
        # Prompts gathered into one prefill iteration: those that arrived during the last one (at least one).
        gathered = np.maximum(rate * t_one, 1e-12)
        chunk = np.minimum(budget, i_mean * np.maximum(1.0, gathered / -np.expm1(-gathered)))
        t_p, busy_p = _iteration(it, d, ctx, chunk, keys_per_token, i_mean)
        phi = rate * i_mean * t_p / chunk  # time share of prefill iterations
        phi_c = np.minimum(phi, 1.0)
        tpot = 1.0 / (phi_c / t_p + (1.0 - phi_c) / t_d)
        return gathered, chunk, t_p, busy_p, phi, phi_c, tpot

    # Little's law on the decoders, d = λ·(E[O] − 1)·TPOT(λ), has one root in λ (TPOT grows with λ): bisect.
    lo, hi = np.zeros_like(d), d / (n_out * t_d)
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        tpot_mid = state(mid)[-1]
        below = mid * n_out * tpot_mid < d
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    rate = lo
    gathered, chunk, t_p, busy_p, phi, phi_c, tpot = state(rate)
    stable = phi < 1.0
    q = phi_c * tpot / t_p  # share of iterations that carry prompt tokens
    # Prompts queue for prefill as an M/G/1 queue in time, a prompt of I tokens taking I·T_p/c seconds.
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(stable, rate * i_sq * (t_p / chunk) ** 2 / (2.0 * (1.0 - phi)), np.inf)
        w90 = np.where(phi > tail, wait * np.log(phi / tail) / phi, 0.0)
    residual = (q * t_p**2 + (1.0 - q) * t_d**2) / (2.0 * tpot)
    own, _ = _iteration(it, d, ctx, np.minimum(budget, np.maximum(chunk, i90)), keys_per_token, i_mean)
    ttft90 = residual + w90 + np.ceil(i90 / budget) * own
    # A request's TPOT averages its iterations: a share q carry prompt tokens, a zero-truncated Poisson number
    # of prompts of random length (so the chunk varies too); the rest are decode-only.
    prompts = gathered / -np.expm1(-gathered)
    prompts_var = prompts * (1.0 + gathered - prompts)
    chunk_sd = np.minimum(np.sqrt(prompts * (i_sq - i_mean**2) + prompts_var * i_mean**2), budget)
    slope = np.maximum(t_p - t_d, 0.0) / chunk
    iter_var = q * (slope * chunk_sd) ** 2 + np.clip(q * (1.0 - q), 0.0, None) * (t_p - t_d) ** 2
    tpot90 = tpot + z * np.sqrt(iter_var / n_out)
    # Requests in the system fluctuate (Poisson-like): leave room for the 90th percentile of the count.
    held = d + rate * (wait + t_p)
    held90 = held + Z90 * np.sqrt(held)
    per_request_kv = load.input_mean[:, None] + load.output_mean[:, None] / 2.0
    feasible = (
        stable
        & (room >= 1.0)
        & (held90 <= seqs)
        & (held90 * per_request_kv <= limits.kv_capacity_tokens)
        & (i90 + load.output_mean[:, None] <= limits.kv_capacity_tokens)
    )
    busy = (q * busy_p + (1.0 - q) * busy_d) / tpot
    return OperatingCurve(
        decoding=d,
        rate_per_s=rate,
        ttft_p90_s=np.where(stable, ttft90, np.inf),
        tpot_p90_s=tpot90,
        tpot_mean_s=tpot,
        busy_fraction=busy,
        feasible=feasible,
    )


def _iteration(
    it: IterationModel, d: FloatArray, ctx: FloatArray, chunk: FloatArray, keys_per_token: FloatArray,
    i_mean: FloatArray,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """(time, busy time) of an iteration with ``d`` decodes over ``ctx`` cached keys and ``chunk`` prompt
    tokens, of which ``chunk / E[I]`` prompts finish."""
    chunk = chunk + np.zeros_like(ctx)
    return it.times(d + np.zeros_like(ctx), ctx, chunk, chunk * keys_per_token, chunk / i_mean)


@dataclass(frozen=True)
class Capacity:
    """Per size class: the highest request rate one replica sustains within both p90 SLOs (0: none), the
    operating point it is reached at, and the best latencies the replica can give that class at all."""

    rate_per_s: FloatArray
    decoding: FloatArray
    ttft_p90_s: FloatArray
    tpot_p90_s: FloatArray
    busy_fraction: FloatArray
    best_ttft_p90_s: FloatArray
    best_tpot_p90_s: FloatArray


def capacity_within_slo(curve: OperatingCurve, slo_ttft_p90_s: float, slo_tpot_p90_s: float) -> Capacity:
    """The highest-rate feasible grid point whose p90 TTFT and TPOT meet the SLOs, per size class."""
    ok = curve.feasible & (curve.ttft_p90_s <= slo_ttft_p90_s) & (curve.tpot_p90_s <= slo_tpot_p90_s)
    rates = np.where(ok, curve.rate_per_s, -1.0)
    idx = np.argmax(rates, axis=1)
    rows = np.arange(rates.shape[0])
    met = ok[rows, idx]
    feasible_ttft = np.where(curve.feasible, curve.ttft_p90_s, np.inf)
    feasible_tpot = np.where(curve.feasible, curve.tpot_p90_s, np.inf)
    return Capacity(
        rate_per_s=np.where(met, curve.rate_per_s[rows, idx], 0.0),
        decoding=np.where(met, curve.decoding[rows, idx], 0.0),
        ttft_p90_s=np.where(met, curve.ttft_p90_s[rows, idx], np.nan),
        tpot_p90_s=np.where(met, curve.tpot_p90_s[rows, idx], np.nan),
        busy_fraction=np.where(met, curve.busy_fraction[rows, idx], 0.0),
        best_ttft_p90_s=feasible_ttft.min(axis=1),
        best_tpot_p90_s=feasible_tpot.min(axis=1),
    )
