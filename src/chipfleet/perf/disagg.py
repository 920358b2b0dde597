"""Disaggregated serving in steady state: a prefill pool, the KV-cache link between the pools, and a decode pool.

``P`` prefill workers run prefill-only iterations and ``D`` decode workers decode-only ones
(:class:`chipfleet.perf.iteration.IterationModel` of each worker's tp/ep/attention-data-parallel layout). Every
request has a prompt of ``I`` and an output of ``O`` tokens (means); at a throughput of ``X`` requests/s:

- **Prefill worker** (arrivals ``λ = X/P``, token budget ``B`` per iteration). As in the aggregated closed loop
  (:mod:`chipfleet.validate.serving.closed_loop`), about ``g = λ·t(min(B, I))`` prompts gather per iteration
  and the iteration carries ``c = min(B, I·max(1, g/(1 − e^−g)))`` prompt tokens, taking ``t_p = t(c)``
  (each prompt token attends ``I/2`` keys on average). The worker is busy ``ρ = λ·I·t_p/c`` of the time. A
  prompt waits the remainder of the iteration in flight, ``ρ·t_p/2``, and behind the prompts ahead of it,
  Pollaczek–Khinchine with deterministic service ``s = I·t_p/c``: ``W = λ·s²/(2(1 − ρ))``; then its own
  prefill: one iteration ``t(max(c, I))`` when ``I ≤ B``, else ``⌊I/B⌋`` full chunks and the remainder.
- **KV transfer**: ``T_x = latency + S/bandwidth`` (:class:`chipfleet.perf.kv_transfer.KvLink`) for the prompt's
  cache of ``S`` bytes, once per request.
- **Decode worker** with ``d`` sequences on average: a decode-only iteration ``T_d = t(d)`` over the cached
  context ``d·(I + O/2)``; with speculative decoding a sequence gains ``τ`` tokens per iteration
  (:attr:`IterationModel.tokens_per_step`), so ``TPOT = T_d/τ``. Little's law on the decoders,
  ``d = (X/D)·(O − 1)·TPOT``, gives the throughput each ``d`` sustains: ``X(d) = D·d·τ/((O − 1)·T_d)``. A
  worker holds at most ``S_d`` sequences: its sequence cap and its KV room at mean context ``I + O/2``.

``TTFT₀ = residual + W + own prefill + T_x + first-token overhead``. Closed loop of ``N`` clients (think time
``Z``): over a grid of ``d`` up to ``S_d``, ``N(d) = X(d)·(Z + TTFT₀ + (O − 1)·TPOT)`` rises with ``d``; ``N`` is
read off the curve by interpolation. Past the last state the pools sustain (``ρ < 1`` and ``d ≤ S_d``) the
throughput stays at that state's ``X*`` and the extra clients queue for a prefill slot:
``W_N = N/X* − Z − TTFT₀ − (O − 1)·TPOT``, added to TTFT. Open loop at rate ``λ_total``: the state where
``X(d) = λ_total``.

A finite benchmark run (``requests_per_client`` requests per client, all clients starting at once) also has a
first wave: ``N`` prompts reach the prefill pool together, ``N/P`` per worker, prefilled ``B`` tokens per
iteration, the ``k``-th one done after ``⌈k·I/B⌉`` iterations (:func:`prefill_wave_s`); the run's mean TTFT
weights it by ``1/requests_per_client``.

Left out: length spread (means only), the decode worker's own time to load an arriving cache, queueing on the
link (its utilisation is reported), transfers overlapped with the prefill layer by layer, and routing imbalance
(workers share the load evenly).
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
GRID_MIN_DECODING = 0.01

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Pool:
    """``workers`` identical workers, each an :class:`IterationModel` with its batching limits."""

    iteration: IterationModel
    limits: ReplicaLimits
    workers: int

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"a pool needs at least one worker, got {self.workers!r}", field="workers")


@dataclass(frozen=True)
class Disaggregated:
    """A prefill pool, a decode pool, and one request's KV-cache transfer between them (seconds and bytes)."""

    prefill: Pool
    decode: Pool
    transfer_s: float
    transfer_bytes: float
    link_bytes_per_s: float  # one transfer's bandwidth (the link utilisation's denominator)

    def __post_init__(self) -> None:
        for name in ("transfer_s", "transfer_bytes"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be finite and ≥ 0, got {value!r}", field=name)
        if not self.link_bytes_per_s > 0:
            raise ConfigError(f"link_bytes_per_s must be positive, got {self.link_bytes_per_s!r}", field="decode")


@dataclass(frozen=True)
class DisaggResult:
    """The steady state of a disaggregated deployment: the aggregated closed loop's fields
    (:class:`chipfleet.validate.serving.ClosedLoopResult`), whole-deployment throughput, plus each pool's use
    and the transfer."""

    clients: int
    throughput_rps: float  # completed requests per second, whole deployment
    decoding: float  # mean decoding sequences per decode worker
    in_engine: float  # mean requests in the deployment (prefilling, moving, decoding)
    queue_wait_s: float  # mean wait for a prefill slot beyond the prefill queue (saturated closed loop)
    ttft_steady_s: float
    ttft_mean_s: float  # the run's mean TTFT: steady state and first wave weighted
    tpot_mean_s: float
    e2e_mean_s: float
    decode_iteration_s: float  # a decode-only iteration
    prefill_share: float  # = prefill_utilisation (the aggregated result's name)
    saturated: bool  # a pool's limit binds: extra clients queue
    input_tokens_per_s: float
    output_tokens_per_s: float
    prefill_utilisation: float  # ρ: busy share of a prefill worker
    decode_utilisation: float  # d/S_d: share of a decode worker's sequence room in use
    prefill_s: float  # a prompt's own prefill
    prefill_wait_s: float  # residual + queue at the prefill worker
    transfer_s: float
    transfer_bytes: float
    link_utilisation: float  # X·S/(bandwidth·min(P, D)): transfers in flight per worker pair


def prefill_iteration_s(it: IterationModel, chunk: FloatArray, prompt: float) -> FloatArray:
    """A prefill-only iteration of ``chunk`` prompt tokens of ``prompt``-token prompts (each token attends
    ``prompt/2`` keys; ``chunk/prompt`` prompts finish)."""
    zero = np.zeros_like(chunk)
    return it.times(zero, zero, chunk, chunk * prompt / 2.0, chunk / prompt)[0]


def prefill_state(it: IterationModel, budget: int, rate: FloatArray, prompt: float) -> dict[str, FloatArray]:
    """One prefill worker at ``rate`` prompts/s (module docstring): ``chunk``, ``t_p``, ``rho``, ``wait``
    (residual + Pollaczek–Khinchine, ``inf`` at ``ρ ≥ 1``) and ``own`` (the prompt's own prefill)."""
    b = float(budget)
    first = min(b, prompt)
    t_one = prefill_iteration_s(it, np.full_like(rate, first), prompt)
    gathered = np.maximum(rate * t_one, 1e-12)
    chunk = np.minimum(b, prompt * np.maximum(1.0, gathered / -np.expm1(-gathered)))
    t_p = prefill_iteration_s(it, chunk, prompt)
    rho = rate * prompt * t_p / chunk
    service = prompt * t_p / chunk
    with np.errstate(divide="ignore"):
        queue = np.where(rho < 1.0, rate * service**2 / (2.0 * np.maximum(1.0 - rho, 1e-300)), np.inf)
    wait = np.minimum(rho, 1.0) * t_p / 2.0 + queue
    if prompt <= b:
        own = prefill_iteration_s(it, np.maximum(chunk, prompt), prompt)
    else:
        full = math.floor(prompt / b)
        rest = prompt - full * b
        t_full = prefill_iteration_s(it, np.full_like(rate, b), prompt)
        t_rest = prefill_iteration_s(it, np.full_like(rate, max(rest, 1.0)), prompt) if rest > 0 else 0.0 * t_full
        own = full * t_full + t_rest
    return {"chunk": chunk, "t_p": t_p, "rho": rho, "wait": wait, "own": own}


def prefill_wave_s(it: IterationModel, budget: int, prompts: int, prompt: float) -> float:
    """Mean time to prefill the ``prompts`` prompts of ``prompt`` tokens that reach one idle worker together:
    iterations of ``B`` tokens in arrival order, prompt ``k`` done at the end of iteration ``⌈k·I/B⌉``."""
    b = float(budget)
    total = prompts * prompt
    iters = max(1, math.ceil(total / b))
    j = np.arange(1, iters + 1, dtype=np.float64)
    chunk = np.minimum(b, total - (j - 1.0) * b)
    finish = np.cumsum(prefill_iteration_s(it, chunk, prompt))
    k = np.arange(1, prompts + 1, dtype=np.float64)
    idx = np.minimum(np.ceil(k * prompt / b).astype(np.int64), iters) - 1
    return float(finish[idx].mean())


def decode_seats(limits: ReplicaLimits, input_tokens: float, output_tokens: float) -> float:
    """``S_d``: sequences a decode worker holds, its sequence cap and its KV room at mean context ``I + O/2``."""
    seats = float(limits.max_seqs if isinstance(limits.max_seqs, int) else int(np.min(limits.max_seqs)))
    return max(min(seats, limits.kv_capacity_tokens / (input_tokens + output_tokens / 2.0)), GRID_MIN_DECODING * 2)


def steady_curve(dep: Disaggregated, input_tokens: float, output_tokens: float) -> dict[str, FloatArray]:
    """Every steady-state quantity over the grid of decoding sequences per decode worker ``d`` (module
    docstring): ``rate`` (whole deployment), ``tpot``, ``t_d``, ``ttft0`` (without the first-token overhead),
    prefill ``rho``/``wait``/``own``, ``stable`` (``ρ < 1``) and ``cap`` (``S_d``)."""
    i_mean, o_mean = float(input_tokens), float(output_tokens)
    dec = dep.decode
    cap = decode_seats(dec.limits, i_mean, o_mean)
    d = np.geomspace(GRID_MIN_DECODING, cap, GRID_POINTS)
    n_out = max(o_mean - 1.0, 1.0)
    zero = np.zeros_like(d)
    t_d = dec.iteration.times(d, d * (i_mean + o_mean / 2.0), zero, zero, zero)[0]
    tau = dec.iteration.tokens_per_step
    tpot = t_d / tau
    rate = dec.workers * d / (n_out * tpot)
    pre = prefill_state(dep.prefill.iteration, dep.prefill.limits.max_batch_tokens, rate / dep.prefill.workers, i_mean)
    ttft0 = pre["wait"] + pre["own"] + dep.transfer_s
    return {
        "d": d,
        "rate": rate,
        "tpot": tpot,
        "t_d": t_d,
        "ttft0": ttft0,
        "rho": pre["rho"],
        "wait": pre["wait"],
        "own": pre["own"],
        "stable": (pre["rho"] < 1.0).astype(np.float64),
        "cap": np.full_like(d, cap),
    }


def _result(
    dep: Disaggregated,
    clients: int,
    input_tokens: float,
    output_tokens: float,
    at: dict[str, float],
    wait: float,
    ttft_mean: float,
    first_token_s: float,
    saturated: bool,
) -> DisaggResult:
    n_out = max(output_tokens - 1.0, 1.0)
    rate, tpot = at["rate"], at["tpot"]
    ttft = at["ttft0"] + wait + first_token_s
    pairs = min(dep.prefill.workers, dep.decode.workers)
    return DisaggResult(
        clients=clients,
        throughput_rps=rate,
        decoding=at["d"],
        in_engine=rate * (at["ttft0"] + n_out * tpot),
        queue_wait_s=wait,
        ttft_steady_s=ttft,
        ttft_mean_s=ttft_mean,
        tpot_mean_s=tpot,
        e2e_mean_s=ttft + n_out * tpot,
        decode_iteration_s=at["t_d"],
        prefill_share=at["rho"],
        saturated=saturated,
        input_tokens_per_s=rate * input_tokens,
        output_tokens_per_s=rate * output_tokens,
        prefill_utilisation=at["rho"],
        decode_utilisation=at["d"] / at["cap"],
        prefill_s=at["own"],
        prefill_wait_s=at["wait"],
        transfer_s=dep.transfer_s,
        transfer_bytes=dep.transfer_bytes,
        link_utilisation=rate * dep.transfer_bytes / (dep.link_bytes_per_s * pairs),
    )


def disagg_closed_loop(
    dep: Disaggregated,
    clients: int,
    input_tokens: float,
    output_tokens: float,
    *,
    think_time_s: float = 0.0,
    requests_per_client: float | None = None,
    first_token_s: float = 0.0,
) -> DisaggResult:
    """The deployment's steady state under ``clients`` closed-loop clients (module docstring).
    ``first_token_s``: the engine's per-request first-token overhead, added to each TTFT."""
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ConfigError(f"clients must be a positive integer, got {clients!r}", field="clients")
    c = steady_curve(dep, input_tokens, output_tokens)
    stable = c["stable"] > 0
    if not stable[0]:
        raise ConfigError(
            "the prefill pool cannot keep up even with a fraction of one decoding sequence per decode worker; "
            "add prefill workers or shorten the prompts",
            field="prefill",
        )
    last = int(np.argmin(stable)) - 1 if not stable.all() else len(stable) - 1
    n_out = max(output_tokens - 1.0, 1.0)
    part = {k: v[: last + 1] for k, v in c.items()}
    curve_n = np.maximum.accumulate(part["rate"] * (think_time_s + part["ttft0"] + n_out * part["tpot"]))
    n_clients = float(clients)
    saturated = n_clients > curve_n[-1]
    at_n = min(n_clients, float(curve_n[-1]))
    at = {k: float(np.interp(at_n, curve_n, v)) for k, v in part.items()}
    wait = max(n_clients / at["rate"] - think_time_s - at["ttft0"] - n_out * at["tpot"], 0.0) if saturated else 0.0
    ttft_steady = at["ttft0"] + wait + first_token_s
    ttft_mean = ttft_steady
    if requests_per_client is not None:
        if not (math.isfinite(requests_per_client) and requests_per_client >= 1):
            raise ConfigError(
                f"requests_per_client must be at least 1, got {requests_per_client!r}", field="requests_per_client"
            )
        pre = dep.prefill
        per_worker = max(1, math.ceil(clients / pre.workers))
        wave = prefill_wave_s(pre.iteration, pre.limits.max_batch_tokens, per_worker, float(input_tokens))
        share = 1.0 / requests_per_client
        ttft_mean = (1.0 - share) * ttft_steady + share * (wave + dep.transfer_s + first_token_s)
    return _result(dep, clients, input_tokens, output_tokens, at, wait, ttft_mean, first_token_s, saturated)


def disagg_open_loop(
    dep: Disaggregated, rate_per_s: float, input_tokens: float, output_tokens: float, *, first_token_s: float = 0.0
) -> DisaggResult:
    """The deployment's steady state under Poisson arrivals at ``rate_per_s`` (whole deployment): the state where
    ``X(d) = rate_per_s``; a rate past the pools' capacity is a :class:`ConfigError` (field ``rate_per_s``)."""
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise ConfigError(f"rate_per_s must be a positive request rate, got {rate_per_s!r}", field="rate_per_s")
    c = steady_curve(dep, input_tokens, output_tokens)
    stable = c["stable"] > 0
    last = int(np.argmin(stable)) - 1 if not stable.all() else len(stable) - 1
    rates = np.maximum.accumulate(c["rate"][: last + 1]) if last >= 0 else np.zeros(1)
    if last < 0 or rate_per_s > rates[-1]:
        raise ConfigError(
            f"{rate_per_s:g} requests/s is beyond the deployment's capacity ({float(rates[-1]):.3g} requests/s at "
            "these lengths): its queue grows for as long as the run lasts; add prefill or decode workers",
            field="rate_per_s",
        )
    at = {k: float(np.interp(rate_per_s, rates, v[: last + 1])) for k, v in c.items()}
    ttft = at["ttft0"] + first_token_s
    clients = max(1, round(rate_per_s * (ttft + max(output_tokens - 1.0, 1.0) * at["tpot"])))
    return _result(dep, clients, input_tokens, output_tokens, at, 0.0, ttft, first_token_s, False)
