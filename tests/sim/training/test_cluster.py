"""Job-level training-cluster simulation: speed conversion, accounting, determinism, the result record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ConfigError
from chipfleet.serialize import dumps
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.training.cluster import TrainingCluster
from chipfleet.sim.training.policies import get_policy
from chipfleet.sim.training.results import per_job_json
from chipfleet.sim.training.simulate import TrainingOptions, run_cluster
from chipfleet.sim.training.throughput import (
    ThroughputMatrix,
)
from chipfleet.traces.schema import JobTrace

from .jobs import jobs


def synthetic(n: int = 200, seed: int = 3, gap_s: float = 30.0) -> JobTrace:
    rng = np.random.default_rng(seed)
    submit = np.concatenate([[0.0], np.cumsum(rng.exponential(gap_s, n - 1))])
    chips = rng.choice([1, 2, 4, 8, 16], n, p=[0.6, 0.1, 0.1, 0.15, 0.05])
    return jobs(submit, chips, rng.lognormal(6.5, 1.3, n))


MIXED = "p5.48xlarge:3,trn1.32xlarge:3"


# --- throughput conversion ------------------------------------------------------------------------------


# --- accounting -----------------------------------------------------------------------------------------


def test_part_used_instance(cat: Catalog) -> None:
    """A 1-chip job on a 16-chip trn1 holds one chip: it is charged one chip, the other 15 are idle capacity."""
    pool = Pool.build(cat, FleetSpec.parse("trn1.32xlarge:1"))
    res = run_cluster(jobs([0], [1], [100]), pool, "fifo", ThroughputMatrix.from_relative({"trn1.32xlarge": 1}))
    usage = res.types[0]
    assert res.span_s == 100
    assert usage.busy_chip_s == 100 and usage.utilization == pytest.approx(1 / 16)
    assert usage.allocated_chip_s == 100 and usage.allocated_share == pytest.approx(1 / 16)
    assert usage.held_instance_s == 100 and usage.held_share == pytest.approx(1.0)
    assert usage.held_idle_chip_s == 15 * 100
    assert pool.ledger.busy_chip_s(pool.nodes[0].id, math.inf) == 100
    price = pool.nodes[0].price_usd_per_h
    assert res.cost_usd == pytest.approx(price / 16 * 100 / 3600)  # one chip of sixteen for 100 s
    assert res.held_idle_cost_usd == pytest.approx(price * 15 / 16 * 100 / 3600)
    assert res.unused_cost_usd == pytest.approx(0.0, abs=1e-12)
    assert res.fleet_cost_usd == pytest.approx(pool.charge(100).cost_usd)
    assert res.energy_kwh == pytest.approx(pool.charge(100).energy_kwh)
    assert "allocated chip-hours" in res.cost_note


ONE_P5 = "p5.48xlarge:1"
P5 = {"p5.48xlarge": 1.0}


def test_small_job_leaves_the_rest_of_its_node_to_others(cat: Catalog) -> None:
    """A 1-chip job on an 8-chip node leaves 7 chips: a 7-chip job submitted with it runs at once beside it."""
    res = run_cluster(jobs([0, 0], [1, 7], [100, 50]), Pool.build(cat, FleetSpec.parse(ONE_P5)), "fifo",
                            ThroughputMatrix.from_relative(P5))  # fmt: skip
    assert res.first_start_s.tolist() == [0, 0] and res.finish_s.tolist() == [100, 50]
    assert res.queueing_s.max == 0
    u = res.types[0]
    assert u.allocated_chip_s == pytest.approx(1 * 100 + 7 * 50)
    # The node is full then: a third 1-chip job waits for the 7-chip job's chips (t=50), not for the node.
    res2 = run_cluster(jobs([0, 0, 0], [1, 7, 1], [100, 50, 10]), Pool.build(cat, FleetSpec.parse(ONE_P5)),
                             "fifo", ThroughputMatrix.from_relative(P5))  # fmt: skip
    assert res2.first_start_s.tolist() == [0, 0, 50] and res2.finish_s.tolist() == [100, 50, 60]


def test_single_chip_jobs_share_one_node(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse(ONE_P5))
    res = run_cluster(jobs([0] * 8, [1] * 8, [100] * 8), pool, "fifo", ThroughputMatrix.from_relative(P5))
    assert res.first_start_s.tolist() == [0] * 8 and res.makespan_s == 100
    u = res.types[0]
    assert u.busy_chip_s == u.allocated_chip_s == 8 * 100 and u.utilization == pytest.approx(1.0)
    assert u.held_idle_chip_s == 0
    assert res.cost_usd == pytest.approx(pool.charge(100).cost_usd)  # every chip charged to some job


def test_multi_node_job_takes_whole_nodes(cat: Catalog) -> None:
    """12 chips on 8-chip nodes hold two whole nodes (16 chips); the 4 spare chips are not lent to others."""
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2"))
    res = run_cluster(jobs([0, 0], [12, 4], [100, 10]), pool, "fifo", ThroughputMatrix.from_relative(P5))
    assert res.first_start_s.tolist() == [0, 100] and res.finish_s.tolist() == [100, 110]
    u = res.types[0]
    assert u.busy_chip_s == pytest.approx(12 * 100 + 4 * 10)
    assert u.allocated_chip_s == pytest.approx(16 * 100 + 4 * 10)
    assert u.allocated_chip_s >= u.busy_chip_s
    assert sorted(pool.ledger.busy_chip_s(n.id, math.inf) for n in pool.nodes) == [4 * 100, 8 * 100 + 4 * 10]
    # The 4-chip job did not wait for the 12-chip one when a whole node was free for it.
    res2 = run_cluster(jobs([0, 0], [12, 4], [100, 10]), Pool.build(cat, FleetSpec.parse("p5.48xlarge:3")),
                             "fifo", ThroughputMatrix.from_relative(P5))  # fmt: skip
    assert res2.first_start_s.tolist() == [0, 0]


def test_best_fit_keeps_whole_nodes_free(cat: Catalog) -> None:
    """A 1-chip job goes to the node with the fewest free chips that hold it, so an 8-chip job still starts."""
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2"))
    res = run_cluster(jobs([0, 1, 2], [6, 1, 8], [100, 100, 100]), pool, "fifo",
                            ThroughputMatrix.from_relative(P5))  # fmt: skip
    assert res.first_start_s.tolist() == [0, 1, 2]
    assert [pool.ledger.busy_chip_s(n.id, math.inf) for n in pool.nodes] == [6 * 100 + 1 * 100, 8 * 100]


def test_books_add_up(cat: Catalog) -> None:
    """Per type: busy ≤ allocated ≤ held × chips; the three cost parts make the fleet's bill; JSON carries them."""
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 3.0, "trn1.32xlarge": 1.0})
    pool = Pool.build(cat, FleetSpec.parse(MIXED))
    res = run_cluster(synthetic(gap_s=10.0), pool, get_policy("sjf-preemptive", restart_penalty_s=30.0), m)
    assert res.preemptions > 0  # restarts hold chips without computing: allocated > busy
    for t in res.types:
        assert t.busy_chip_s <= t.allocated_chip_s + 1e-6
        cpi = t.chips // t.instances
        assert t.allocated_chip_s <= t.held_instance_s * cpi + 1e-6
        assert t.held_instance_s <= t.instances * res.span_s + 1e-6
        assert t.cost_usd + t.held_idle_cost_usd + t.unused_cost_usd == pytest.approx(t.fleet_cost_usd)
    assert sum(t.allocated_chip_s for t in res.types) > sum(t.busy_chip_s for t in res.types)
    assert res.fleet_cost_usd == pytest.approx(pool.charge(res.span_s).cost_usd)
    assert res.cost_usd + res.held_idle_cost_usd + res.unused_cost_usd == pytest.approx(res.fleet_cost_usd)
    assert res.cost_usd < res.fleet_cost_usd
    d = json.loads(dumps(res))
    assert d["allocated_chip_s"] == pytest.approx(res.allocated_chip_s)
    for t, dt in zip(res.types, d["types"], strict=True):
        assert dt["busy_chip_s"] == pytest.approx(t.busy_chip_s)
        assert dt["allocated_chip_s"] == pytest.approx(t.allocated_chip_s)


def test_utilization_over_time_integrates_to_total(cat: Catalog) -> None:
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 3.0, "trn1.32xlarge": 1.0})
    pool = Pool.build(cat, FleetSpec.parse(MIXED))
    res = run_cluster(synthetic(), pool, "gavel-max-throughput", m, options=TrainingOptions(window_s=500.0))
    assert res.window_s == 500.0
    for t in res.types:
        u = np.array(t.utilization_over_time)
        assert len(u) == math.ceil(res.span_s / 500.0)
        widths = np.diff(np.minimum(np.arange(len(u) + 1) * 500.0, res.span_s))
        assert float(np.sum(u * widths * t.chips)) == pytest.approx(t.busy_chip_s, rel=1e-9)
        assert t.work_ref_chip_s == pytest.approx(t.busy_chip_s * t.relative_speed)
    busy = sum(t.busy_chip_s for t in res.types)
    assert res.chip_hours == pytest.approx(busy / 3600)
    custom = sum(t.busy_chip_s for t in res.types if t.custom_silicon)
    assert [t.custom_silicon for t in res.types] == [False, True]
    assert res.custom_silicon_chip_share == pytest.approx(custom / busy)
    work = sum(t.work_ref_chip_s for t in res.types)
    assert res.custom_silicon_work_share == pytest.approx(res.types[1].work_ref_chip_s / work)
    assert res.fleet_cost_usd == pytest.approx(pool.charge(res.span_s).cost_usd)
    assert res.energy_kwh == pytest.approx(sum(t.energy_kwh for t in res.types))


def test_pue(cat: Catalog) -> None:
    """Each node carries the region its price comes from, with that region's PUE; an override replaces it."""
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"))
    res = run_cluster(jobs([0], [8], [10]), pool, "fifo", ThroughputMatrix.from_relative({"p5.48xlarge": 1}))
    node = pool.nodes[0]
    price = node.instance.price(None, Pricing.ON_DEMAND)
    assert price is not None and node.region == price.region and node.price_usd_per_h == price.usd_per_h
    assert res.types[0].pue == node.pue == cat.region(price.region).pue_ratio
    assert price.region in res.pue_note
    grid = cat.region(price.region).grid_gco2_per_kwh
    assert grid is not None and res.co2_kg == pytest.approx(res.energy_kwh * grid / 1000)
    pool2 = Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"), pue=1.5)
    res2 = run_cluster(jobs([0], [8], [10]), pool2, "fifo", ThroughputMatrix.from_relative({"p5.48xlarge": 1}))
    assert res2.types[0].pue == 1.5 and res2.pue_note == "PUE 1.5 given"
    assert res2.energy_kwh == pytest.approx(res.energy_kwh / node.pue * 1.5)
    with pytest.raises(ConfigError, match="fresh Pool"):
        run_cluster(jobs([0], [8], [10]), pool2, "fifo", ThroughputMatrix.from_relative({"p5.48xlarge": 1}))
    with pytest.raises(ConfigError) as err:
        Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"), pue=0.9)
    assert err.value.field == "pue"


def test_until_cuts_short(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"))
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1})
    res = run_cluster(
        jobs([0, 0, 50], [8, 8, 8], [10, 100, 10]), pool, "fifo", m, options=TrainingOptions(until_s=40.0)
    )
    assert res.span_s == 40 and res.completed == 1 and res.unfinished == 2
    assert res.types[0].busy_chip_s == pytest.approx(8 * 40)
    assert math.isnan(res.makespan_s) is False and res.makespan_s == 10


def test_result_reads_the_ledger_and_writes_nothing(cat: Catalog) -> None:
    """A job still running at the end is busy in the pool's ledger up to any reader's time; result() adds
    nothing to the ledger, so another simulator's books read the same before and after it."""
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"))
    sim = Simulation(seed=0)
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1})
    train = TrainingCluster(sim, jobs([0], [8], [1000]), pool, get_policy("fifo"), m)
    train.start()
    sim.run(400.0)
    node = pool.nodes[0].id
    before = (pool.ledger.busy_chip_s(node, 400.0), pool.ledger.held_s(node, "train", 400.0))
    assert before == (8 * 400.0, 400.0)
    res = train.result(until=400.0)
    assert (pool.ledger.busy_chip_s(node, 400.0), pool.ledger.held_s(node, "train", 400.0)) == before
    assert res.busy_chip_s == 8 * 400.0 and res.energy_kwh == pytest.approx(pool.charge(400.0).energy_kwh)


def test_shared_pool_leaves_other_owners_alone(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2"))
    pool.allocate([pool.nodes[0]], "serve:replica-0")
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1})
    res = run_cluster(jobs([0, 0], [8, 8], [10, 10]), pool, "fifo", m)
    assert res.finish_s.tolist() == [10, 20]  # one node for training
    assert pool.nodes[0].owner == "serve:replica-0" and pool.ledger.busy_chip_s(pool.nodes[0].id, math.inf) == 0


def test_nodes_taken_and_freed_by_another_simulator(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2"))
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1})
    sim = Simulation(seed=0)
    train = TrainingCluster(sim, jobs([0, 0, 20], [8, 8, 8], [10, 10, 10]), pool, get_policy("fifo"), m)
    other = pool.nodes[1]

    def serve_takes() -> None:
        pool.allocate([other], "serve:0")  # behind the training simulation's back

    def serve_releases() -> None:
        other.owner = None
        train.nodes_freed([other])

    sim.schedule(0.0, serve_takes)
    sim.schedule(5.0, serve_releases)
    train.start()
    sim.run()
    res = train.result()
    # Job 1 waits for a node: serving held one until t=5, so it starts then; job 2 at its submission.
    assert res.first_start_s.tolist() == [0, 5, 20]
    assert res.finish_s.tolist() == [10, 15, 30]


# --- determinism ----------------------------------------------------------------------------------------


def test_same_seed_same_result(cat: Catalog) -> None:
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 3.0, "trn1.32xlarge": 1.0})
    trace = synthetic(150, gap_s=10.0)

    def once(seed: int, policy: str = "random") -> dict[str, object]:
        res = run_cluster(trace, Pool.build(cat, FleetSpec.parse(MIXED)), policy, m, seed=seed)
        d = per_job_json(res)
        d.pop("events")
        return d

    a = once(11)
    # Other runs in between (no globals carry over).
    once(12)
    once(11, "gavel-max-throughput-preemptive")
    assert once(11) == a
    assert once(12) != a


def test_two_clusters_on_one_kernel(cat: Catalog) -> None:
    """Two training simulations share one kernel and one pool (mixed mode) without touching each other."""
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2"))
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1})
    sim = Simulation(seed=0)
    a = TrainingCluster(sim, jobs([0, 1], [8, 8], [10, 10]), pool, get_policy("fifo"), m)
    a.start()
    sim.run()
    assert a.result().finish_s.tolist() == [10, 11]
    with pytest.raises(RuntimeError):
        a.start()


# --- jobs larger than the fleet ---------------------------------------------------------------------------------


def test_a_job_larger_than_every_type_is_counted_as_unplaceable(cat: Catalog) -> None:
    """64 chips on one p5.48xlarge (8 chips) can never start: it is counted, with the sizes, not lost."""
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1.0})
    res = run_cluster(jobs([0, 0], [64, 4], [3600, 100]), Pool.build(cat, FleetSpec.parse("p5.48xlarge:1")),
                            "fifo", m)  # fmt: skip
    up = res.unplaceable
    assert (res.jobs, res.completed, up.jobs, res.unfinished) == (2, 1, 1, 0)
    assert res.rejected == 1 and math.isnan(res.first_start_s[0])
    assert (up.largest_request_chips, up.largest_node_chips, up.most_chips_per_job) == (64, 8, 8)
    assert up.most_chips_type == up.largest_node_type == "p5.48xlarge" and not up.every_job
    assert "1 of the 2 jobs asks for more chips" in up.note and "64 chips" in up.note
    d = json.loads(dumps(res))
    assert d["unplaceable"]["jobs"] == 1 and d["unplaceable"]["largest_request_chips"] == 64
    assert d["unplaceable"]["most_chips_per_job"] == 8 and "refused at submission" in d["unplaceable"]["note"]


def test_the_most_one_job_can_hold_is_one_types_total(cat: Catalog) -> None:
    """A job runs on one type: 3 × p5 (24 chips) and 3 × trn1 (48) hold a 48-chip job, not a 49-chip one."""
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 2.0, "trn1.32xlarge": 1.0})
    res = run_cluster(jobs([0, 0], [48, 49], [100, 100]), Pool.build(cat, FleetSpec.parse(MIXED)), "fifo", m)
    up = res.unplaceable
    assert res.completed == 1 and up.jobs == 1 and np.isfinite(res.finish_s[0])
    assert (up.most_chips_per_job, up.most_chips_type) == (48, "trn1.32xlarge")
    assert (up.largest_node_chips, up.largest_node_type) == (16, "trn1.32xlarge")


def test_a_trace_none_of_whose_jobs_fits_is_an_error_when_required(cat: Catalog) -> None:
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1.0})
    trace = jobs([0, 5], [64, 16], [3600, 60])
    res = run_cluster(trace, Pool.build(cat, FleetSpec.parse("p5.48xlarge:1")), "fifo", m)
    assert res.unplaceable.every_job and res.completed == 0 and res.unplaceable.jobs == 2
    with pytest.raises(ConfigError, match=r"all 2 jobs ask for more chips .* asks for 64 chips.*p5\.48xlarge:8"):
        run_cluster(
            trace,
            Pool.build(cat, FleetSpec.parse("p5.48xlarge:1")),
            "fifo",
            m,
            options=TrainingOptions(require_placeable=True),
        )
    # one job that fits is enough to simulate
    ok = run_cluster(jobs([0, 5], [64, 8], [3600, 60]), Pool.build(cat, FleetSpec.parse("p5.48xlarge:1")),
                           "fifo", m, options=TrainingOptions(require_placeable=True))  # fmt: skip
    assert ok.completed == 1 and ok.unplaceable.jobs == 1


def test_training_tables_say_how_many_jobs_could_not_be_placed(cat: Catalog) -> None:
    from rich.console import Console

    from chipfleet.report.sim import train_tables

    m = ThroughputMatrix.from_relative({"p5.48xlarge": 1.0})
    res = run_cluster(jobs([0, 0], [64, 4], [3600, 100]), Pool.build(cat, FleetSpec.parse("p5.48xlarge:1")),
                            "fifo", m)  # fmt: skip
    console = Console(width=120, record=True)
    for table in train_tables(res):
        console.print(table)
    text = " ".join(console.export_text().split())
    assert "completed / unplaceable / unfinished │ 1 / 1 / 0" in text
    assert "64 / 8 chips (p5.48xlarge)" in text
    assert "Unplaceable: 1 of the 2 jobs asks for more chips than the fleet can give one job" in text


# --- the command line -------------------------------------------------------------------------------------------
