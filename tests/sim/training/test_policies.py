"""Training-cluster policies: the registry, one contract test over every registered policy, hand-checked cases."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import UnknownNameError
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.training.policies import (
    ClusterView,
    Decision,
    Policy,
    ShortestJobFirstPreemptive,
    Start,
    get_policy,
    list_policies,
    register_policy,
)
from chipfleet.sim.training.results import ClusterResult
from chipfleet.sim.training.simulate import run_cluster
from chipfleet.sim.training.throughput import ThroughputMatrix
from chipfleet.traces.schema import JobTrace

from .jobs import jobs

BUILT_IN = {
    "fifo",
    "sjf",
    "cost-min",
    "energy-aware",
    "random",
    "gavel-max-throughput",
    "sjf-preemptive",
    "gavel-max-throughput-preemptive",
}


def synthetic(n: int = 80, seed: int = 7) -> JobTrace:
    """Poisson submissions, Philly-like chip counts and log-normal run times, plus one impossible job."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(60.0, n)
    submit = np.concatenate([[0.0], np.cumsum(gaps[1:])])
    chips = rng.choice([1, 2, 4, 8, 16, 24], n, p=[0.55, 0.1, 0.1, 0.15, 0.05, 0.05])
    chips[n // 2] = 4096  # larger than any type's total: rejected
    duration = rng.lognormal(6.0, 1.2, n)
    duration[3] = 0.0  # a zero-length job completes on start
    return jobs(submit, chips, duration)


def run(
    cat: Catalog, trace: JobTrace, fleet: str, speeds: dict[str, float], policy: Policy | str, seed: int = 0
) -> ClusterResult:
    pool = Pool.build(cat, FleetSpec.parse(fleet))
    return run_cluster(trace, pool, policy, ThroughputMatrix.from_relative(speeds), seed=seed)


# --- registry -------------------------------------------------------------------------------------------


def test_builtins_registered() -> None:
    assert set(list_policies()) >= BUILT_IN
    assert list_policies() == sorted(list_policies())


def test_duplicate_registration_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_policy("fifo")(type(get_policy("fifo")))


def test_unknown_policy_suggests() -> None:
    with pytest.raises(UnknownNameError) as err:
        get_policy("gavel-max-througput")
    assert "gavel-max-throughput" in str(err.value)


def test_names_are_case_insensitive() -> None:
    assert get_policy("FIFO").name == "fifo"
    p = get_policy(" Sjf-Preemptive ", restart_penalty_s=1.0)
    assert p.name == "sjf-preemptive" and p.restart_penalty_s == 1.0
    with pytest.raises(UnknownNameError) as err:
        get_policy("GAVEL-MAX-THROUGHPT")
    assert "did you mean gavel-max-throughput" in str(err.value).lower()
    with pytest.raises(ValueError, match="lower case"):
        register_policy("MyPolicy")
    with pytest.raises(ValueError, match="already registered"):
        register_policy("fifo")(type(get_policy("FIFO")))


def test_options() -> None:
    p = get_policy("sjf-preemptive", restart_penalty_s=5.0)
    assert p.preemptive and p.restart_penalty_s == 5.0
    with pytest.raises(TypeError):
        get_policy("fifo", restart_penalty_s=5.0)


# --- contract: every registered policy ------------------------------------------------------------------


@dataclass
class Checked:
    """Wraps a policy; at every call checks the view against the pool: no node held twice, gangs whole."""

    inner: Policy
    pool: Pool
    calls: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def preemptive(self) -> bool:
        return self.inner.preemptive

    @property
    def restart_penalty_s(self) -> float:
        return self.inner.restart_penalty_s

    def queue_key(self, submit_s: float, chips: int, remaining_ref_s: float, rng: np.random.Generator) -> float:
        return self.inner.queue_key(submit_s, chips, remaining_ref_s, rng)

    def decide(self, view: ClusterView) -> Decision | None:
        self.calls += 1
        on_node: dict[int, list[tuple[int, int]]] = {n.id: [] for n in self.pool.nodes}  # node -> (job, chips)
        for t in view.types:
            c = t.chips_per_instance
            running = list(view.running_on(t.index))
            # Every chip of the type is free or held by exactly one running job.
            assert view.free_chips[t.index] + sum(r.allocated_chips for r in running) == t.total_instances * c
            for r in running:
                assert r.remaining_ref_s >= 0 and len(r.node_ids) == r.instances
                if r.chips <= c:  # shares one node
                    assert r.instances == 1 and r.allocated_chips == r.chips
                else:  # whole nodes
                    assert r.instances == t.instances_for(r.chips) and r.allocated_chips == r.instances * c
                for nid in r.node_ids:
                    on_node[nid].append((r.job, r.allocated_chips // r.instances))
            # The lazy descending orders agree with a full sort.
            by_work = sorted(running, key=lambda r: (-r.chips * r.remaining_ref_s, r.job))
            assert [r.job for r in view.running_descending(t.index, "work")] == [r.job for r in by_work]
            by_rem = sorted(running, key=lambda r: (-r.remaining_ref_s, r.job))
            assert [r.job for r in view.running_descending(t.index, "remaining")] == [r.job for r in by_rem]
        free_on: dict[int, int] = {}
        for node in self.pool.nodes:
            held = on_node[node.id]
            used = sum(k for _, k in held)
            assert used <= node.chips, f"node {node.id} overbooked: {held}"
            assert (node.owner == "train") == bool(held), f"node {node.id} owner {node.owner} with jobs {held}"
            if any(k == node.chips for _, k in held):
                assert len(held) == 1  # a whole node belongs to one job
            free_on[node.id] = node.chips - used
        # fits / free_instances agree with the nodes' free chips.
        for t in view.types:
            c = t.chips_per_instance
            frees = [free_on[n.id] for n in self.pool.nodes if n.instance.name == t.name]
            assert view.free_instances[t.index] == sum(1 for f in frees if f == c)
            for g in (1, 2, c - 1, c, c + 1, 2 * c, 3 * c):
                want = max(frees) >= g if g <= c else sum(1 for f in frees if f == c) >= -(-g // c)
                assert view.fits(t.index, g) == want, (t.name, g, frees)
        heads = view.heads()
        assert len({h.chips for h in heads}) == len(heads)
        assert sum(1 for _ in view.waiting()) == view.waiting_count
        return self.inner.decide(view)


@pytest.mark.parametrize("name", list_policies())
def test_contract(cat: Catalog, name: str) -> None:
    trace = synthetic()
    fleet = "p4d.24xlarge:3,trn1.32xlarge:2"
    pool = Pool.build(cat, FleetSpec.parse(fleet))
    matrix = ThroughputMatrix.from_relative({"p4d.24xlarge": 2.5, "trn1.32xlarge": 1.0})
    checked = Checked(get_policy(name), pool)
    res = run_cluster(trace, pool, cast(Policy, checked), matrix, seed=1)
    assert checked.calls > 0
    assert res.policy == name
    assert res.rejected == 1 and math.isnan(res.finish_s[len(trace) // 2])
    assert res.completed + res.rejected == len(trace) and res.unfinished == 0
    assert all(n.owner is None for n in pool.nodes)
    assert 0.0 <= res.utilization <= 1.0
    for t in res.types:
        assert 0.0 <= t.utilization <= 1.0 and 0.0 <= t.allocated_share <= 1.0
        assert all(0.0 <= u <= 1.0 + 1e-9 for u in t.utilization_over_time)
    for n in pool.nodes:
        assert pool.ledger.busy_chip_s(n.id, math.inf) <= n.chips * res.span_s * (1 + 1e-12)
    # Nothing runs faster than on the fastest type; nothing starts before it is submitted.
    done = ~np.isnan(res.finish_s)
    run_s = res.finish_s[done] - res.first_start_s[done]
    assert np.all(run_s >= trace.duration_s[done] / 2.5 - 1e-6)
    assert np.all(res.first_start_s[done] >= trace.submit_s[done])
    # The work done equals the trace's work (reference chip-seconds), whatever the placement.
    work = float(np.sum(trace.chips[done] * trace.duration_s[done]))
    assert res.work_ref_chip_h * 3600 == pytest.approx(work, rel=1e-9)
    assert res.makespan_s == pytest.approx(float(np.nanmax(res.finish_s)))


@pytest.mark.parametrize("name", ["sjf-preemptive", "gavel-max-throughput-preemptive"])
def test_contract_saturated(cat: Catalog, name: str) -> None:
    """Many more jobs than chips: long queues, many preemptions, the running index rebuilt."""
    trace = synthetic(400, seed=2).scale_rate(5.0)
    pool = Pool.build(cat, FleetSpec.parse("p4d.24xlarge:2,trn1.32xlarge:2"))
    matrix = ThroughputMatrix.from_relative({"p4d.24xlarge": 2.5, "trn1.32xlarge": 1.0})
    checked = Checked(get_policy(name, restart_penalty_s=5.0), pool)
    res = run_cluster(trace, pool, cast(Policy, checked), matrix, seed=1)
    assert res.completed + res.rejected == len(trace) and res.preemptions > 0
    assert res.queueing_s.p90 > 0


# --- hand-checked cases ---------------------------------------------------------------------------------

ONE_P5 = "p5.48xlarge:1"


def test_fifo_one_node_cumulative(cat: Catalog) -> None:
    res = run(cat, jobs([0, 0, 0], [8, 8, 8], [10, 20, 30]), ONE_P5, {"p5.48xlarge": 1.0}, "fifo")
    assert res.finish_s.tolist() == [10, 30, 60]
    assert res.first_start_s.tolist() == [0, 10, 30]
    assert res.jct_s.mean == pytest.approx(100 / 3)
    assert res.queueing_s.mean == pytest.approx(40 / 3)
    assert res.makespan_s == 60 and res.span_s == 60


def test_sjf_reorders(cat: Catalog) -> None:
    res = run(cat, jobs([0, 0, 0], [8, 8, 8], [30, 10, 20]), ONE_P5, {"p5.48xlarge": 1.0}, "sjf")
    assert res.finish_s.tolist() == [60, 10, 30]
    fifo = run(cat, jobs([0, 0, 0], [8, 8, 8], [30, 10, 20]), ONE_P5, {"p5.48xlarge": 1.0}, "fifo")
    assert fifo.finish_s.tolist() == [30, 40, 60]


def test_sjf_orders_by_work_not_duration(cat: Catalog) -> None:
    # Job 0 is shorter but asks for 8 chips (80 chip-s); job 1 is 1 chip for 20 s (20 chip-s).
    trace = jobs([0, 0], [8, 1], [10, 20])
    res = run(cat, trace, ONE_P5, {"p5.48xlarge": 1.0}, "sjf")
    assert res.finish_s.tolist() == [30, 20]


def test_gavel_uses_the_faster_type(cat: Catalog) -> None:
    fleet, speeds = "p4d.24xlarge:1,p5.48xlarge:1", {"p4d.24xlarge": 1.0, "p5.48xlarge": 2.0}
    res = run(cat, jobs([0], [8], [100]), fleet, speeds, "gavel-max-throughput")
    assert res.finish_s.tolist() == [50] and res.last_type.tolist() == [1]
    fifo = run(cat, jobs([0], [8], [100]), fleet, speeds, "fifo")
    assert fifo.finish_s.tolist() == [100] and fifo.last_type.tolist() == [0]


def test_gavel_prefers_jobs_that_fill_fast_instances(cat: Catalog) -> None:
    # One fast instance free: the 8-chip job (value 1 per instance) and a 16-chip job needing two.
    fleet, speeds = "p5.48xlarge:2,p4d.24xlarge:2", {"p5.48xlarge": 2.0, "p4d.24xlarge": 1.0}
    res = run(cat, jobs([0, 0, 0], [8, 16, 8], [100, 100, 100]), fleet, speeds, "gavel-max-throughput")
    # Jobs 0 and 2 take both p5 (8 chips each); job 1 (16 chips) then goes to both p4d.
    assert res.last_type.tolist() == [0, 1, 0]
    assert res.finish_s.tolist() == [50, 100, 50]


def test_cost_min_picks_cheaper_per_work(cat: Catalog) -> None:
    fleet = "p5.48xlarge:1,trn1.32xlarge:1"
    pool = Pool.build(cat, FleetSpec.parse(fleet))
    p5, trn1 = pool.nodes[0].price_usd_per_h, pool.nodes[1].price_usd_per_h
    for p5_speed in (2.0, 8.0):
        speeds = {"p5.48xlarge": p5_speed, "trn1.32xlarge": 1.0}
        # An 8-chip job holds 8 chips of either: all of a p5 (8 chips), half of a trn1 (16 chips).
        want = 0 if 8 * p5 / 8 / p5_speed < 8 * trn1 / 16 / 1.0 else 1
        res = run(cat, jobs([0], [8], [100]), fleet, speeds, "cost-min")
        assert res.last_type.tolist() == [want]
    # 55.04 / 2 > 21.5 / 2 but 55.04 / 8 < 21.5 / 2 with the shipped on-demand prices: both branches exercised.
    assert p5 / 2.0 > trn1 / 2 > p5 / 8.0


def test_cost_min_counts_whole_nodes_of_a_multi_node_job(cat: Catalog) -> None:
    # 12 chips: two whole p5 (16 chips held) or 12 of one trn1's 16; p5 4× as fast.
    fleet = "p5.48xlarge:2,trn1.32xlarge:1"
    pool = Pool.build(cat, FleetSpec.parse(fleet))
    p5, trn1 = pool.nodes[0].price_usd_per_h, pool.nodes[2].price_usd_per_h
    for p5_speed in (4.0, 8.0):
        speeds = {"p5.48xlarge": p5_speed, "trn1.32xlarge": 1.0}
        want = 0 if 16 * p5 / 8 / p5_speed < 12 * trn1 / 16 else 1
        res = run(cat, jobs([0], [12], [100]), fleet, speeds, "cost-min")
        assert res.last_type.tolist() == [want]
    assert 16 * p5 / 8 / 4.0 > 12 * trn1 / 16 > 16 * p5 / 8 / 8.0


def test_energy_aware_picks_less_energy_per_work(cat: Catalog) -> None:
    fleet = "p5.48xlarge:1,trn1.32xlarge:1"
    speeds = {"p5.48xlarge": 2.0, "trn1.32xlarge": 1.0}
    pool = Pool.build(cat, FleetSpec.parse(fleet))
    per_work = []
    for node, speed in zip(pool.nodes, speeds.values(), strict=True):
        p = node.power
        # An 8-chip job holds 8 chips of either and its share (8 / chips) of the host.
        watts = 8 * p.chip_tdp_w + p.host_w * 8 / node.chips
        per_work.append(watts / (8 * speed))
    res = run(cat, jobs([0], [8], [100]), fleet, speeds, "energy-aware")
    assert res.last_type.tolist() == [int(np.argmin(per_work))]


def test_sjf_preemptive_penalty(cat: Catalog) -> None:
    trace = jobs([0, 5], [8, 8], [100, 10])
    speeds = {"p5.48xlarge": 1.0}
    plain = run(cat, trace, ONE_P5, speeds, "sjf")
    assert plain.finish_s.tolist() == [100, 110]
    free = run(cat, trace, ONE_P5, speeds, get_policy("sjf-preemptive", restart_penalty_s=0.0))
    assert free.finish_s.tolist() == [110, 15] and free.preemptions == 1
    paid = run(cat, trace, ONE_P5, speeds, get_policy("sjf-preemptive", restart_penalty_s=7.0))
    assert paid.finish_s.tolist() == [117, 15] and paid.preemptions == 1
    # Busy time excludes the restart: 100 s + 10 s of 8 chips; the 8 chips were allocated 117 s.
    assert paid.types[0].busy_chip_s == pytest.approx(8 * 110)
    assert paid.types[0].allocated_chip_s == pytest.approx(8 * 117)
    assert paid.types[0].held_instance_s == pytest.approx(117)
    assert paid.first_start_s.tolist() == [0, 5]


def test_sjf_preemptive_spares_jobs_whose_chips_do_not_help(cat: Catalog) -> None:
    """A and B (4 chips each, submitted first) share node 0, C and D node 1. An 8-chip head needs one node:
    by work the victims come A, C, B; C's chips are on the other node and do not help, so it is spared."""
    decisions: list[Decision] = []

    class Recorded(ShortestJobFirstPreemptive):
        def decide(self, view: ClusterView) -> Decision | None:
            d = super().decide(view)
            if d is not None:
                decisions.append(d)
            return d

    trace = jobs([0, 1, 2, 3, 4], [4, 4, 4, 4, 8], [1000, 900, 950, 100, 10])
    res = run(cat, trace, "p5.48xlarge:2", {"p5.48xlarge": 1.0}, Recorded(restart_penalty_s=0.0))
    first = next(d for d in decisions if d.preempt)
    assert first.starts == (Start(4, 0),) and first.preempt == (0, 1)
    assert res.first_start_s[4] == 4 and res.finish_s[4] == 14
    assert res.finish_s[3] == 103  # D ran through


def test_sjf_preemptive_does_not_preempt_shorter(cat: Catalog) -> None:
    trace = jobs([0, 5], [8, 8], [10, 100])
    res = run(cat, trace, ONE_P5, {"p5.48xlarge": 1.0}, "sjf-preemptive")
    assert res.preemptions == 0 and res.finish_s.tolist() == [10, 110]


def test_gavel_preemptive_migrates_to_faster_type(cat: Catalog) -> None:
    fleet, speeds = "p4d.24xlarge:1,p5.48xlarge:1", {"p4d.24xlarge": 1.0, "p5.48xlarge": 2.0}
    trace = jobs([0, 0], [8, 8], [100, 100])
    plain = run(cat, trace, fleet, speeds, "gavel-max-throughput")
    assert plain.finish_s.tolist() == [50, 100]
    moved = run(cat, trace, fleet, speeds, get_policy("gavel-max-throughput-preemptive", restart_penalty_s=10.0))
    # Job 1 ran 50 s on p4d (50 reference s left), moves at t=50: 10 s restart + 25 s on p5.
    assert moved.finish_s.tolist() == [50, 85] and moved.preemptions == 1
    assert moved.last_type.tolist() == [1, 1]
    # Not worth it when the restart costs more than the time saved.
    stay = run(cat, trace, fleet, speeds, get_policy("gavel-max-throughput-preemptive", restart_penalty_s=30.0))
    assert stay.finish_s.tolist() == [50, 100] and stay.preemptions == 0


def test_gang_waits_for_whole_instances(cat: Catalog) -> None:
    # 16 chips need both p5 instances; the 8-chip job submitted first holds one until t=10.
    res = run(cat, jobs([0, 1], [8, 16], [10, 10]), "p5.48xlarge:2", {"p5.48xlarge": 1.0}, "fifo")
    assert res.first_start_s.tolist() == [0, 10] and res.finish_s.tolist() == [10, 20]


def test_large_job_rejected_and_counted(cat: Catalog) -> None:
    res = run(cat, jobs([0, 0], [17, 16], [10, 10]), "p5.48xlarge:2", {"p5.48xlarge": 1.0}, "fifo")
    assert res.rejected == 1 and res.completed == 1
    assert math.isnan(res.first_start_s[0]) and res.finish_s[1] == 10


def test_infeasible_decision_raises(cat: Catalog) -> None:
    @dataclass
    class Greedy:
        name: str = "bad"
        preemptive: bool = False
        restart_penalty_s: float = 0.0

        def queue_key(self, submit_s: float, chips: int, remaining_ref_s: float, rng: np.random.Generator) -> float:
            return submit_s

        def decide(self, view: ClusterView) -> Decision | None:
            heads = view.heads()
            if not heads:
                return None
            from chipfleet.sim.training.policies import Start

            return Decision(starts=(Start(heads[0].job, 0),))  # ignores free capacity

    with pytest.raises(RuntimeError, match="the most free on one node is 0"):
        run(cat, jobs([0, 0], [8, 8], [10, 10]), ONE_P5, {"p5.48xlarge": 1.0}, Greedy())
