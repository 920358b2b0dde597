"""Open-loop serving in steady state: Poisson arrivals at a request rate, as ``benchmark_serving --request-rate``.

The same iteration-level state as the closed loop (:func:`chipfleet.validate.serving.closed_loop.steady_curve`:
for each mean number ``d`` of decoding sequences, the rate ``X(d)`` that sustains it, TPOT with prefill
interference, and a prompt's own prefill time); the state of rate ``λ`` is read off the curve where
``X(d) = λ``. Arrivals are not tied to completions, so a prompt also waits:

- for the iteration in flight when the engine is busy, the mean residual ``E[T²]/(2E[T])`` with a share ``q``
  of prefill iterations (``T_p``) among decode ones (``T_d``), times ``P(busy) = 1 − e^(−n)`` for ``n``
  requests in the engine (a Poisson count);
- for the prompts ahead of it, an M/G/1 queue in time (each prompt of ``I`` tokens needs ``I·T_p/c`` seconds):
  Pollaczek–Khinchine, ``W = λ·I²·(T_p/c)² / (2(1 − φ))`` (fixed prompt lengths; ``φ`` the prefill share).

``TTFT = residual + W + ⌈I/(B − d)⌉·T_p'``. A rate past the last stable state (``φ → 1``) or that needs more
sequences than the engine holds has no steady state: its queue grows for as long as the run lasts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chipfleet.exceptions import ConfigError
from chipfleet.perf.batching import ReplicaLimits
from chipfleet.perf.iteration import IterationModel
from chipfleet.validate.serving.closed_loop import steady_curve


@dataclass(frozen=True)
class OpenLoad:
    """Poisson arrivals at ``rate_per_s``, each request ``input_tokens`` + ``output_tokens`` on average."""

    rate_per_s: float
    input_tokens: float
    output_tokens: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_s) and self.rate_per_s > 0):
            raise ConfigError(
                f"rate_per_s must be a positive request rate, got {self.rate_per_s!r}", field="rate_per_s"
            )
        for name in ("input_tokens", "output_tokens"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 1):
                raise ConfigError(f"{name} must be at least 1 token, got {value!r}", field=name)


@dataclass(frozen=True)
class OpenLoopResult:
    """The steady state of one replica under Poisson arrivals."""

    rate_per_s: float
    throughput_rps: float  # = the arrival rate (stable)
    decoding: float
    in_engine: float
    queue_wait_s: float  # prefill queue (Pollaczek–Khinchine)
    ttft_steady_s: float
    ttft_mean_s: float  # = ttft_steady_s (no first wave: arrivals are spread from the start)
    tpot_mean_s: float
    e2e_mean_s: float
    decode_iteration_s: float  # a decode-only iteration: the typical (median) gap between tokens
    prefill_share: float
    input_tokens_per_s: float
    output_tokens_per_s: float


def open_loop(it: IterationModel, limits: ReplicaLimits, load: OpenLoad, first_token_s: float = 0.0) -> OpenLoopResult:
    """The replica's steady state at ``load.rate_per_s`` (see the module docstring); raises
    :class:`ConfigError` (field ``rate_per_s``) for a rate it cannot sustain. ``first_token_s`` (the engine's
    per-request first-token overhead) is added to each request's TTFT, not to the chip's busy time."""
    c = steady_curve(it, limits, load.input_tokens, load.output_tokens)
    ok = (c["stable"] > 0) & (c["in_engine"] <= c["cap"])
    if not ok[0] or not ok.any():
        raise ConfigError("the replica sustains no steady state at any rate", field="rate_per_s")
    last = int(np.argmin(ok)) - 1 if not ok.all() else len(ok) - 1
    rates = np.maximum.accumulate(c["rate"][: last + 1])
    lam = load.rate_per_s
    if lam > rates[-1]:
        raise ConfigError(
            f"{lam:g} requests/s is beyond the replica's capacity ({rates[-1]:.3g} requests/s at these lengths): "
            "its queue grows for as long as the run lasts, so the latencies have no steady state",
            field="rate_per_s",
        )

    def at(key: str) -> float:
        return float(np.interp(lam, rates, c[key][: last + 1]))

    keys = ("tpot", "step", "d", "phi", "chunk", "t_p", "t_d", "prefill")
    tpot, step, d, phi, chunk, t_p, t_d, prefill = (at(k) for k in keys)
    q = min(phi * step / t_p, 1.0)  # share of iterations that carry prompt tokens (step: the mean iteration)
    held = d + lam * prefill
    residual = (q * t_p**2 + (1.0 - q) * t_d**2) / (2.0 * step) * -math.expm1(-held)
    wait = lam * load.input_tokens**2 * (t_p / chunk) ** 2 / (2.0 * (1.0 - phi)) if phi < 1.0 else math.inf
    ttft = residual + wait + prefill + first_token_s
    n_out = max(load.output_tokens - 1.0, 1.0)
    return OpenLoopResult(
        rate_per_s=lam,
        throughput_rps=lam,
        decoding=d,
        in_engine=held + lam * (residual + wait),
        queue_wait_s=wait,
        ttft_steady_s=ttft,
        ttft_mean_s=ttft,
        tpot_mean_s=tpot,
        e2e_mean_s=ttft + n_out * tpot,
        decode_iteration_s=t_d,
        prefill_share=phi,
        input_tokens_per_s=lam * load.input_tokens,
        output_tokens_per_s=lam * load.output_tokens,
    )
