"""Workloads, configurations and buckets the serving planner's tests share."""

from __future__ import annotations

import numpy as np

from chipfleet.catalog import Precision, Pricing
from chipfleet.plan.serve.buckets import OPEN_EDGE, Bucket
from chipfleet.plan.serve.capacity import Deployment
from chipfleet.plan.serve.spec import ServeSLO
from chipfleet.traces import RequestTrace, poisson

SLO = ServeSLO(ttft_p90_s=1.0, tpot_p90_s=0.06)
LONG_8B = "llama-3.1-8b"
"""Llama-3-8B's architecture with a 128k context window: the 12k-token prompts of these traces are within it (Llama 3
8B's 8,192-token window leaves them out: test_requests_beyond_the_context_window_are_left_out)."""
INSTANCES = ("g6e.xlarge", "inf2.xlarge", "p4de.24xlarge")


def poisson_trace(rate: float = 3.0, duration_s: float = 300.0, seed: int = 0, max_prompt: int = 12000) -> RequestTrace:
    return poisson(
        rate, duration_s=duration_s, input_dist=f"lognormal:mean=1200,sigma=1.0,max={max_prompt}",
        output_dist="lognormal:mean=150,sigma=0.8,max=1500", rng=np.random.default_rng(seed),
    )  # fmt: skip


def tail_trace(long_prompt: int, count: int = 1) -> RequestTrace:
    """A Poisson trace with ``count`` prompts in its middle made ``long_prompt`` tokens long."""
    base = poisson_trace(max_prompt=4000)
    inp = np.array(base.input_tokens)
    inp[len(inp) // 2 : len(inp) // 2 + count] = long_prompt
    return RequestTrace("tail", base.arrival_s, inp, base.output_tokens)


def deployment(name: str, price: float, caps: list[float], replicas: int = 1) -> Deployment:
    """A made-up configuration with the given per-bucket capacities (requests/s per replica)."""
    n = len(caps)
    return Deployment(
        instance=name, cloud="aws", chip="x", tp=1, precision=Precision.BF16, max_seqs=256,
        replicas_per_instance=replicas, kv_capacity_tokens=10**6, region="r", pricing=Pricing.ON_DEMAND,
        price_usd_per_h=price, pue=1.0, grid_gco2_per_kwh=None, static_power_w=100.0 * price,
        busy_power_w_per_chip=300.0, validated=True, capacity_per_replica=tuple(caps), busy_fraction=(0.5,) * n,
        ttft_p90_s=(0.1,) * n, tpot_p90_s=(0.01,) * n, best_ttft_p90_s=(0.05,) * n, best_tpot_p90_s=(0.01,) * n,
    )  # fmt: skip


def buckets_at(rates: list[float]) -> list[Bucket]:
    """One bucket per rate: prompts in successive 256-token ranges, outputs of any length."""
    return [
        Bucket(
            input_lo=256 * i,
            input_hi=256 * (i + 1),
            output_lo=0,
            output_hi=OPEN_EDGE,
            requests=100,
            rate_per_s=r,
            input_mean=100.0 + 256 * i,
            input_sq_mean=(100.0 + 256 * i) ** 2,
            input_p90=120.0 + 256 * i,
            output_mean=100.0,
            output_p90=150.0,
        )
        for i, r in enumerate(rates)
    ]
