"""The serving system: replica options per instance type, requests beyond the context window."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.serialize import to_jsonable
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import ServeOptions, simulate_serving
from chipfleet.workloads import get_model

from .traces import MODEL, poisson, trace


def test_replica_options_per_instance_type(cat: Catalog) -> None:
    """One fleet, two replica shapes: each type runs the chips per replica and sequence limit it was given."""
    trace = poisson(300, 4.0, 512, 64)
    fleet = FleetSpec.parse("g6e.48xlarge:1,g6e.xlarge:1")
    by_type = {"g6e.48xlarge": ServeOptions(tp=2, max_seqs=16)}
    result = simulate_serving(get_model("llama-3-8b"), trace, fleet, cat, options_by_type=by_type)
    shapes = {t.instance: (t.replicas, t.tp) for t in result.by_type}
    assert shapes == {"g6e.48xlarge": (4, 2), "g6e.xlarge": (1, 1)}
    assert result.completed == 300


def test_requests_beyond_the_context_window_are_refused_and_counted(cat: Catalog) -> None:
    """Llama 3 8B takes 8,192 tokens of prompt and output: a longer request is refused on arrival and counted
    (as a server refuses it), whatever the KV cache could hold; a trace of nothing else is an error."""
    assert MODEL.max_position_embeddings == 8192
    tr = trace(np.arange(4.0), np.array([1000, 8000, 8192 - 100, 12000]), np.array([100, 500, 100, 10]))
    res = simulate_serving(MODEL, tr, FleetSpec.parse("p5.48xlarge:1"), cat)
    assert res.by_type[0].kv_capacity_tokens > 12_010  # the cache would hold them: the window refuses them
    assert (res.requests, res.completed, res.beyond_context, res.rejected) == (4, 2, 2, 0)
    assert res.context_window_tokens == 8192 and to_jsonable(res)["beyond_context"] == 2
    from rich.console import Console

    from chipfleet.report.sim import serve_tables

    console = Console(width=150, record=True)
    for table in serve_tables(res):
        console.print(table)
    text = " ".join(console.export_text().split())
    assert "longer than the context window (8,192 tokens) │ 2 refused (50.0 %)" in text
    with pytest.raises(ConfigError, match=r"all 2 requests of test are longer than llama-3-8b's context window"):
        simulate_serving(MODEL, trace(np.arange(2.0), np.array([9000, 8000]), np.array([1, 500])),
                         FleetSpec.parse("p5.48xlarge:1"), cat)  # fmt: skip


def test_latency_over_time_is_per_window_and_follows_the_load(cat: Catalog) -> None:
    """The TTFT and TPOT series hold one mean per window, inside the run's own range; a load that rises sixfold
    halfway shows in the later windows' TTFT."""
    calm, busy = poisson(200, 2.0, 2048, 64, seed=1), poisson(400, 12.0, 2048, 64, seed=2)
    arrival = np.concatenate([calm.arrival_s, calm.arrival_s[-1] + 1.0 + busy.arrival_s])
    n = len(arrival)
    tr = trace(arrival, np.full(n, 2048), np.full(n, 64))
    res = simulate_serving(MODEL, tr, FleetSpec.parse("g6e.xlarge:1"), cat, options=ServeOptions(window_s=20.0))
    assert res.completed == n and res.window_s == 20.0
    assert len(res.ttft_series) >= int(arrival[-1] // 20.0)
    windows = [w for w in res.ttft_series if w is not None]
    assert 0 < min(windows) < max(windows) <= res.ttft_s["max"]
    switch = int((calm.arrival_s[-1] + 1.0) // 20.0)
    early = [w for w in res.ttft_series[:switch] if w is not None]
    late = [w for w in res.ttft_series[switch + 1 :] if w is not None]
    assert early and late and max(early) < max(late)
    tpots = [t for t in res.tpot_series if t is not None]
    assert tpots and 0 < min(tpots) <= max(tpots) <= res.tpot_s["max"]
