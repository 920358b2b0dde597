"""Training and serving in one fleet: eviction, draining and the fleet's books."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.serialize import dumps
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.mixed import MixedOptions, MixedResult, simulate_mixed
from chipfleet.sim.serving.routers import FleetView, make_router
from chipfleet.traces.schema import JobTrace, RequestTrace
from chipfleet.workloads import get_model

FLEET = "inf2.48xlarge:1,p4d.24xlarge:6"


def requests(rate: float, seconds: float, inp: int = 1024, out: int = 256, seed: int = 0) -> RequestTrace:
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, int(rate * seconds * 1.2)))
    arr = arr[arr < seconds] - arr[0]
    n = arr.size
    return RequestTrace(
        name="poisson", arrival_s=arr, input_tokens=np.full(n, inp, dtype=np.int64),
        output_tokens=np.full(n, out, dtype=np.int64), source="generated in the test", license="n/a", skipped_rows=0,
    )  # fmt: skip


def long_jobs(n: int, chips: int = 8, hours: float = 10.0) -> JobTrace:
    """Jobs that would hold every training node for the whole test."""
    return JobTrace(
        name="long",
        submit_s=np.zeros(n),
        chips=np.full(n, chips, dtype=np.int64),
        duration_s=np.full(n, hours * 3600.0),
    )


def run(cat: Catalog, sharing: str, req: RequestTrace, jobs: JobTrace, **kw: object) -> MixedResult:
    opts = MixedOptions(**kw) if kw else MixedOptions()  # type: ignore[arg-type]
    return simulate_mixed(get_model("llama-3-8b"), req, jobs, FleetSpec.parse(FLEET), cat, sharing=sharing,
                          options=opts, until_s=1800.0)  # fmt: skip


def books_balance(r: MixedResult) -> None:
    chips = {u.instance: u.chips // u.instances for u in r.train.types}
    for s in r.shares:
        held = s.serving_node_h + s.training_node_h
        assert held <= s.nodes * r.span_s / 3600 + 1e-6  # no node held twice
        assert math.isclose(held + s.idle_node_h, s.nodes * r.span_s / 3600, rel_tol=1e-9)
        # Training's jobs hold at most the chips of the nodes it holds, and compute on at most those.
        assert s.training_busy_chip_h <= s.training_allocated_chip_h + 1e-9
        assert s.training_allocated_chip_h <= s.training_node_h * chips.get(s.instance, 0) + 1e-9
    parts = r.serving_cost_usd + r.training_cost_usd + r.training_idle_chip_cost_usd + r.idle_cost_usd
    assert math.isclose(parts, r.fleet_cost_usd, rel_tol=1e-9)
    assert math.isclose(r.training_cost_usd, r.train.cost_usd, rel_tol=1e-9, abs_tol=1e-12)


def test_partition_keeps_its_split(cat: Catalog) -> None:
    share = FleetSpec.parse("inf2.48xlarge:1,p4d.24xlarge:2")
    r = run(cat, "partition", requests(20, 1800), long_jobs(10), serve_fleet=share)
    by = {s.instance: s for s in r.shares}
    assert by["p4d.24xlarge"].serving_node_h == pytest.approx(2 * 0.5)
    assert by["p4d.24xlarge"].training_node_h == pytest.approx(4 * 0.5)  # training fills the other four
    assert by["inf2.48xlarge"].training_node_h == 0.0  # Inferentia cannot train the reference workload
    assert r.resizes == 0 and r.training_evictions == 0
    books_balance(r)


def test_serving_first_evicts_training_under_load(cat: Catalog) -> None:
    # Training holds every p4d from t=0; the load needs more than the one Inferentia node serving starts with.
    r = run(cat, "serving-first", requests(60, 1800), long_jobs(10))
    assert r.training_evictions > 0
    assert r.train.preemptions >= r.training_evictions
    assert {s.instance: s for s in r.shares}["p4d.24xlarge"].serving_node_h > 0
    books_balance(r)
    # Serving on the Inferentia node alone for the same load waits far longer.
    alone = run(cat, "partition", requests(60, 1800), long_jobs(10))
    assert r.serve.ttft_s["p90"] < alone.serve.ttft_s["p90"]


def test_freeing_a_shared_node_evicts_every_job_on_it(cat: Catalog) -> None:
    # 48 one-chip jobs pack the six 8-GPU p4d nodes eight to a node; serving can only take whole nodes. Ten
    # minutes of load evict dozens of them (the other twenty of the run: serving drains, training takes nodes back).
    r = run(cat, "serving-first", requests(60, 600), long_jobs(48, chips=1))
    assert r.training_evictions > 0 and r.training_evictions % 8 == 0
    assert r.train.preemptions >= r.training_evictions
    p4d = {s.instance: s for s in r.shares}["p4d.24xlarge"]
    assert p4d.serving_node_h > 0
    # Jobs are always waiting, so every node training holds is full: no idle chips, nothing charged twice.
    assert p4d.training_allocated_chip_h == pytest.approx(8 * p4d.training_node_h, rel=1e-9)
    assert r.training_idle_chip_cost_usd == pytest.approx(0.0, abs=1e-9)
    books_balance(r)


def test_cost_aware_does_not_evict_without_a_queue(cat: Catalog) -> None:
    # Light load: the starting node copes, so nothing is taken from training.
    r = run(cat, "cost-aware", requests(0.5, 1800), long_jobs(10))
    assert r.training_evictions == 0
    assert r.serve.completed > 0
    books_balance(r)


def test_serving_shrinks_and_training_gets_the_nodes(cat: Catalog) -> None:
    # Serving starts on all six p4d at a trickle of load: it drains down to the minimum and training runs.
    share = FleetSpec.parse("p4d.24xlarge:6")
    r = run(cat, "serving-first", requests(0.2, 1800), long_jobs(10), serve_fleet=share, min_serving_nodes=1)
    assert r.serving_nodes_over_time[-1][1] == 1
    p4d = {s.instance: s for s in r.shares}["p4d.24xlarge"]
    assert p4d.training_node_h > 0
    assert r.serve.completed > 0.95 * r.serve.requests
    books_balance(r)


def test_same_seed_same_result(cat: Catalog) -> None:
    # Ten minutes of load: evictions and resizes happen, so every part of the run is compared.
    a = run(cat, "serving-first", requests(30, 600), long_jobs(10))
    b = run(cat, "serving-first", requests(30, 600), long_jobs(10))
    assert a.training_evictions > 0 and a.resizes > 0
    assert dumps(a) == dumps(b)


def test_bad_serving_share(cat: Catalog) -> None:
    with pytest.raises(ConfigError, match="serving share asks for 9"):
        run(cat, "partition", requests(1, 60), long_jobs(1), serve_fleet=FleetSpec.parse("p4d.24xlarge:9"))
    with pytest.raises(ConfigError, match="shrink_below"):
        MixedOptions(shrink_below=1.5)


@pytest.mark.parametrize("router", ["round-robin", "least-outstanding", "power-of-two", "size-aware"])
def test_routers_skip_closed_replicas(router: str) -> None:
    closed = FleetView.CLOSED
    view = FleetView(instance=["a", "a", "b", "b"], outstanding=np.array([closed, 5, closed, 9]),
                     kv_capacity_tokens=np.array([100, 100, 200, 200]))  # fmt: skip
    rt = make_router(router)
    rng = np.random.default_rng(0)
    picks = {rt.choose(100, 10, view, rng) for _ in range(50)}
    assert picks <= {1, 3}


def test_training_jobs_larger_than_the_training_types_are_unplaceable(cat: Catalog) -> None:
    """p4d.24xlarge × 6 (48 chips) trains; inf2 only serves: a 64-chip job is counted apart, never run."""
    trace = JobTrace(name="big", submit_s=np.zeros(2), chips=np.array([64, 8]), duration_s=np.full(2, 600.0))
    res = simulate_mixed(get_model("llama-3-8b"), requests(1.0, 900), trace, FleetSpec.parse(FLEET), cat,
                         until_s=900.0)  # fmt: skip
    up = res.train.unplaceable
    assert up.jobs == 1 and up.most_chips_per_job == 48 and up.most_chips_type == "p4d.24xlarge"
    assert res.train.completed == 1 and json.loads(dumps(res))["train"]["unplaceable"]["jobs"] == 1
    too_big = JobTrace(name="big", submit_s=np.zeros(1), chips=np.array([64]), duration_s=np.full(1, 600.0))
    with pytest.raises(ConfigError, match="nothing to simulate: the trace's one job asks for more chips"):
        simulate_mixed(get_model("llama-3-8b"), requests(1.0, 900), too_big, FleetSpec.parse(FLEET), cat,
                       until_s=900.0, require_placeable=True)  # fmt: skip
