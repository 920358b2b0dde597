"""One replica: KV pressure and preemption, prefix cache, chunked prefill, the options it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, simulate_serving

from .traces import MODEL, poisson, trace


def test_kv_pressure_preempts_and_still_finishes(cat: Catalog) -> None:
    """Long outputs on a small-memory GPU overflow the KV cache: requests are preempted and recomputed."""
    tr = poisson(300, 50.0, 2000, 1500, seed=4)
    res = simulate_serving(MODEL, tr, FleetSpec.parse("g6.xlarge:1"), cat, options=ServeOptions(max_seqs=256))
    assert res.preemptions > 0
    assert res.completed == 300


def test_prefix_cache_cuts_prefill(cat: Catalog) -> None:
    n = 200
    hashes = tuple((0, 1, 2, 3, 4, 5, 6, 7, 100 + i) for i in range(n))  # a shared 8-block system prompt
    arr = np.arange(n) * 0.5
    tr = trace(arr, np.full(n, 9 * 512), np.full(n, 16), hashes=hashes, block=512)
    on = simulate_serving(MODEL, tr, FleetSpec.parse("p5.48xlarge:1"), cat, options=ServeOptions(tp=8))
    off = simulate_serving(
        MODEL, tr, FleetSpec.parse("p5.48xlarge:1"), cat, options=ServeOptions(tp=8, prefix_cache=False)
    )
    assert on.prefix_hit_tokens >= (n - 1) * 8 * 512
    assert off.prefix_hit_tokens == 0
    assert on.ttft_s["mean"] < 0.5 * off.ttft_s["mean"]


def test_chunked_and_unchunked_prefill_both_complete(cat: Catalog) -> None:
    tr = poisson(500, 10.0, 3000, 100, seed=5)
    for chunked in (True, False):
        res = simulate_serving(
            MODEL,
            tr,
            FleetSpec.parse("g6e.xlarge:2"),
            cat,
            options=ServeOptions(chunked_prefill=chunked, max_batch_tokens=2048),
        )
        assert res.completed == 500


@pytest.mark.parametrize(
    "options",
    [
        {"slo_ttft_s": math.nan},
        {"slo_tpot_s": -0.05},
        {"slo_ttft_s": math.inf},
        {"slo_tpot_s": 0.0},
        {"tp": 0},
        {"window_s": math.nan},
    ],
)
def test_serve_options_refuse_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ServeOptions(**options)  # type: ignore[arg-type]
