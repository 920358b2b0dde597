"""Closed-loop serving in steady state: N clients, each sending its next request when its last one completes.

Mean-value analysis over the batching iteration model (:class:`chipfleet.perf.iteration.IterationModel`, the
simulator's own roofline). A replica runs vLLM-style iterations with chunked prefill: every iteration carries
one token of each of the ``d`` decoding sequences and, when prompts are waiting, up to ``B − d`` prompt tokens.
All requests have prompt ``I`` and output ``O`` tokens (means). The state is parametrised by the mean number
``d`` of decoding sequences; for each ``d``:

- ``T_d = t(d, 0)``: a decode-only iteration; ``T_p = t(d, c)``: one that also runs ``c`` prompt tokens.
- Arrivals are staggered: a client's next request follows a completion, and completions end iterations, so
  about ``g = X·t(d, I)`` prompts gather for each prefill iteration; the chunk is
  ``c = min(B − d, I·g/(1 − e^−g))`` (a zero-truncated Poisson count of prompts, at least one).
- Prefill iterations take the time share ``φ = X·I·T_p / c``; each decoder gets a token per iteration, so
  ``TPOT = 1 / (φ/T_p + (1 − φ)/T_d)`` (prefill interference in the decode iterations).
- Little's law on the decoders, ``d = X·(O − 1)·TPOT``, has one root ``X`` (TPOT grows with X): bisection.
- With speculative decoding (the iteration model's ``spec``) a decoding sequence carries ``k + 1`` tokens in an
  iteration (they count against the budget: ``B − d·(k + 1)`` prompt tokens) and gains ``τ`` tokens
  (:attr:`IterationModel.tokens_per_step`) on average: ``TPOT = 1 / (φ/T_p + (1 − φ)/T_d) / τ``, the mean
  iteration time over ``τ``; Little's law and everything below are unchanged.
- A request that finds a free sequence slot waits for the iteration in flight (the engine starts the next
  iteration as the last one completes, before the client's next request arrives), ``TPOT`` when other
  requests are running, then its own prefill: one iteration ``T_p'`` with the prompts gathered when it fits
  the budget, else ``⌊I/(B − d)⌋`` full chunks and the remainder: ``TTFT₀ = residual + prefill``.
- The number of clients this state holds follows from Little's law on the whole loop,
  ``N(d) = X·(Z + TTFT₀ + (O − 1)·TPOT)`` (``Z`` the think time), increasing in ``d``; a client count ``N``
  is read off the curve by interpolation.
- The engine holds at most ``S`` sequences (``max_seqs``, and the KV cache's room at mean context
  ``I + O/2``); requests in the engine are ``d + X·TTFT₀``. Past the ``d`` where they reach ``S`` the
  throughput stays at that state's ``X*`` and the extra clients queue: ``W = N/X* − Z − TTFT₀ − (O − 1)·TPOT``,
  added to TTFT.

A finite benchmark run (``requests_per_client`` requests per client, all clients starting at once, as
``benchmark_serving.py --max-concurrency N --request-rate inf`` does) also has a first wave: ``min(N, S)``
prompts arrive together and are prefilled ``B`` tokens per iteration, the ``k``-th one finishing after
``⌈k·I/B⌉`` such iterations (:func:`first_wave_ttft_s`). The mean TTFT of the run weights the first wave by
``1/requests_per_client``; medians follow the steady state.

Left out: length spread (means only), preemption, prefix caching, and the client's own network latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.iteration import IterationModel

GRID_POINTS = 192
BISECTION_STEPS = 36
GRID_MIN_DECODING = 0.01

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ClosedLoad:
    """The closed loop: ``clients`` concurrent clients, each request ``input_tokens`` + ``output_tokens`` on
    average, ``think_time_s`` between a completion and the client's next request."""

    clients: int
    input_tokens: float
    output_tokens: float
    think_time_s: float = 0.0
    requests_per_client: float | None = None  # a finite run whose clients start at once; None: steady state

    def __post_init__(self) -> None:
        if isinstance(self.clients, bool) or not isinstance(self.clients, int) or self.clients < 1:
            raise ConfigError(f"clients must be a positive integer, got {self.clients!r}", field="clients")
        for name in ("input_tokens", "output_tokens"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 1):
                raise ConfigError(f"{name} must be at least 1 token, got {value!r}", field=name)
        if not (math.isfinite(self.think_time_s) and self.think_time_s >= 0):
            raise ConfigError(f"think_time_s must be ≥ 0 seconds, got {self.think_time_s!r}", field="think_time_s")
        per = self.requests_per_client
        if per is not None and not (math.isfinite(per) and per >= 1):
            raise ConfigError(
                f"requests_per_client must be at least 1 (or None), got {per!r}", field="requests_per_client"
            )


@dataclass(frozen=True)
class ClosedLoopResult:
    """The steady state of one closed loop (and the run's mean TTFT with its first wave)."""

    clients: int
    throughput_rps: float  # completed requests per second
    decoding: float  # mean decoding sequences
    in_engine: float  # mean requests holding a sequence slot
    queue_wait_s: float  # mean wait for a sequence slot (0 below the limit)
    ttft_steady_s: float  # steady-state mean TTFT (queue wait included)
    ttft_mean_s: float  # the run's mean TTFT: steady state and first wave weighted
    tpot_mean_s: float
    e2e_mean_s: float
    decode_iteration_s: float  # a decode-only iteration: the typical (median) gap between tokens
    prefill_share: float  # time share of iterations carrying prompt tokens
    saturated: bool  # the sequence or KV limit binds: extra clients queue
    input_tokens_per_s: float
    output_tokens_per_s: float


def _iteration(
    it: IterationModel, d: FloatArray, ctx: FloatArray, chunk: FloatArray, keys_per_token: float, prompt: float
) -> FloatArray:
    """Time of an iteration with ``d`` decodes over ``ctx`` cached keys and ``chunk`` prompt tokens (a prompt
    token attends ``keys_per_token`` keys; ``chunk / prompt`` prompts finish)."""
    return it.times(d, ctx, chunk, chunk * keys_per_token, chunk / prompt)[0]


def steady_curve(
    it: IterationModel, limits: ReplicaLimits, input_tokens: float, output_tokens: float, think_time_s: float = 0.0
) -> dict[str, FloatArray]:
    """Every steady-state quantity over the grid of mean decoding-sequence counts ``d`` (module docstring):
    ``rate`` (requests/s), ``tpot``, ``step`` (the mean iteration a decoder sees: ``τ·tpot``), ``ttft0`` (TTFT
    with a free slot), ``clients`` (closed loop), ``in_engine``, ``phi`` (prefill time share),
    ``chunk``/``t_p``/``t_d`` (prefill chunk, prefill and decode iteration times), ``prefill`` (a prompt's own
    prefill time), ``stable`` and ``cap`` (the sequence/KV limit)."""
    i_mean, o_mean = float(input_tokens), float(output_tokens)
    seats = float(max(1, limits.max_seqs if isinstance(limits.max_seqs, int) else int(np.min(limits.max_seqs))))
    kv_seats = limits.kv_capacity_tokens / (i_mean + o_mean / 2.0)
    cap = max(min(seats, kv_seats), GRID_MIN_DECODING * 2)
    d = np.geomspace(GRID_MIN_DECODING, cap, GRID_POINTS)
    n_out = max(o_mean - 1.0, 1.0)
    ctx = d * (i_mean + o_mean / 2.0)
    per_seq, tau = float(it.queries_per_sequence), it.tokens_per_step  # 1 and 1 without speculative decoding
    budget = np.maximum(limits.max_batch_tokens - d * per_seq, 1.0)
    keys = i_mean / 2.0  # a prompt token attends half its prompt on average
    zero = np.zeros_like(d)
    t_d = it.times(d, ctx, zero, zero, zero)[0]
    t_one = _iteration(it, d, ctx, np.minimum(budget, i_mean), keys, i_mean)

    def state(rate: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        gathered = np.maximum(rate * t_one, 1e-12)
        chunk = np.minimum(budget, i_mean * np.maximum(1.0, gathered / -np.expm1(-gathered)))
        t_p = _iteration(it, d, ctx, chunk, keys, i_mean)
        phi = rate * i_mean * t_p / chunk
        phi_c = np.minimum(phi, 1.0)
        step = 1.0 / (phi_c / t_p + (1.0 - phi_c) / t_d)  # the mean iteration a decoder sees
        return chunk, t_p, phi, step / tau, step

    lo, hi = np.zeros_like(d), d * tau / (n_out * t_d)
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        below = mid * n_out * state(mid)[3] < d
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    rate = lo
    chunk, t_p, phi, tpot, step = state(rate)
    own = _iteration(it, d, ctx, np.minimum(budget, np.maximum(chunk, i_mean)), keys, i_mean)
    # The prompt's own chunks: full ones of B − d tokens, then the remainder (a whole number of decoders shares
    # each iteration: the mean d is fractional). A prompt that fits runs in one iteration with those gathered.
    own_budget = np.maximum(limits.max_batch_tokens - np.floor(d) * per_seq, 1.0)
    full = np.floor(i_mean / own_budget)
    rest = i_mean - full * own_budget
    t_full = _iteration(it, d, ctx, own_budget, keys, i_mean)
    t_rest = _iteration(it, d, ctx, np.maximum(rest, 1.0), keys, i_mean)
    prefill = np.where(i_mean <= own_budget, own, full * t_full + np.where(rest > 0, t_rest, 0.0))
    # Clients this state holds without the residual; the residual (the iteration in flight) applies only when
    # other requests keep the engine busy, which needs a second client.
    base = rate * (think_time_s + prefill + n_out * tpot)
    residual = step * np.clip(base - 1.0, 0.0, 1.0)
    ttft0 = residual + prefill
    clients = rate * (think_time_s + ttft0 + n_out * tpot)
    in_engine = d + rate * ttft0
    return {
        "d": d,
        "rate": rate,
        "tpot": tpot,
        "step": step,
        "ttft0": ttft0,
        "phi": np.minimum(phi, 1.0),
        "clients": clients,
        "in_engine": in_engine,
        "stable": (phi < 1.0).astype(np.float64),  # 1.0 where the prefill share stays below 1
        "chunk": chunk,
        "t_p": t_p,
        "t_d": t_d,
        "prefill": prefill,
        "cap": np.full_like(d, cap),
    }


def first_wave_ttft_s(it: IterationModel, limits: ReplicaLimits, load: ClosedLoad) -> float:
    """Mean TTFT of the first ``min(N, S)`` requests of a run whose clients all start at once.

    The prompts are prefilled ``B`` tokens per iteration in arrival order; iteration ``j`` also decodes the
    prompts already finished (``⌊(j − 1)·B/I⌋`` of them), and prompt ``k`` gets its first token at the end of
    iteration ``⌈k·I/B⌉``.
    """
    i_mean = float(load.input_tokens)
    seats = limits.max_seqs if isinstance(limits.max_seqs, int) else int(np.min(limits.max_seqs))
    kv_seats = int(limits.kv_capacity_tokens // (i_mean + load.output_tokens / 2.0))
    wave = max(1, min(load.clients, seats, max(kv_seats, 1)))
    budget = float(limits.max_batch_tokens)
    total = wave * i_mean
    iters = max(1, math.ceil(total / budget))
    j = np.arange(1, iters + 1, dtype=np.float64)
    done = np.minimum(np.floor((j - 1.0) * budget / i_mean), wave)
    chunk = np.minimum(budget, total - (j - 1.0) * budget)
    ctx = done * (i_mean + 1.0)
    t = _iteration(it, done, ctx, chunk, i_mean / 2.0, i_mean)
    finish = np.cumsum(t)
    k = np.arange(1, wave + 1, dtype=np.float64)
    idx = np.minimum(np.ceil(k * i_mean / budget).astype(np.int64), iters) - 1
    return float(finish[idx].mean())


def closed_loop(
    it: IterationModel, limits: ReplicaLimits, load: ClosedLoad, first_token_s: float = 0.0
) -> ClosedLoopResult:
    """The closed loop's steady state at ``load.clients`` clients (see the module docstring). ``first_token_s``
    (the engine's per-request first-token overhead, ``EngineProfile.first_token_overhead_s``) is added to each
    request's TTFT, not to the chip's busy time: it is time outside the batch, like the think time, so it lengthens
    each client's cycle below the sequence limit and overlaps the queue wait past it (as the simulator has it)."""
    # The overhead is time outside the engine, as the think time is: the request has not joined a batch yet. So
    # it counts in each client's cycle (fewer requests in the engine at N clients) and, past the sequence limit,
    # it overlaps the queue wait instead of adding to it.
    away_s = load.think_time_s + first_token_s
    c = steady_curve(it, limits, load.input_tokens, load.output_tokens, away_s)
    stable = c["stable"] > 0
    if not stable[0]:
        raise ConfigError(
            "the replica cannot sustain even a fraction of one decoding sequence: its prefill share reaches 1; "
            "use more chips per replica or shorter prompts",
            field="clients",
        )
    # The stable stretch of the curve, from the lightest state up.
    last = int(np.argmin(stable)) - 1 if not stable.all() else len(stable) - 1
    part = {k: v[: last + 1] for k, v in c.items()}
    curve_n = np.maximum.accumulate(part["clients"])
    in_engine = np.maximum.accumulate(part["in_engine"])
    cap = float(part["cap"][0])
    n_clients = float(load.clients)
    n_out = max(load.output_tokens - 1.0, 1.0)
    # The client count at which the engine's sequence (or KV) limit is reached, or the end of stability.
    n_limit = float(np.interp(cap, in_engine, curve_n)) if cap <= in_engine[-1] else float(curve_n[-1])
    saturated = n_clients > n_limit
    at_n = min(n_clients, n_limit)

    def at(key: str) -> float:
        return float(np.interp(at_n, curve_n, part[key]))

    rate, tpot, ttft0, d, phi, held, t_d = (at(k) for k in ("rate", "tpot", "ttft0", "d", "phi", "in_engine", "t_d"))
    wait = max(n_clients / rate - away_s - ttft0 - n_out * tpot, 0.0) if saturated else 0.0
    ttft_steady = ttft0 + wait + first_token_s
    ttft_mean = ttft_steady
    if load.requests_per_client is not None:
        share = 1.0 / load.requests_per_client
        ttft_mean = (1.0 - share) * ttft_steady + share * (first_wave_ttft_s(it, limits, load) + first_token_s)
    e2e = ttft_steady + n_out * tpot
    return ClosedLoopResult(
        clients=load.clients,
        throughput_rps=rate,
        decoding=d,
        in_engine=held,
        queue_wait_s=wait,
        ttft_steady_s=ttft_steady,
        ttft_mean_s=ttft_mean,
        tpot_mean_s=tpot,
        e2e_mean_s=e2e,
        decode_iteration_s=t_d,
        prefill_share=phi,
        saturated=saturated,
        input_tokens_per_s=rate * load.input_tokens,
        output_tokens_per_s=rate * load.output_tokens,
    )
