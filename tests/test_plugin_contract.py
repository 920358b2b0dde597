"""One contract over every registered plugin of every family: routers, training policies, sharing policies and trace
loaders, taken from the registries themselves, so a newly registered plugin is tested without a line added here.

Each family's case is tiny and built here against the family's declared interface only (``Router``, ``Policy`` and
``ClusterView``, ``SharingPolicy``, ``TraceLoader``), not through the simulators, so it checks what any plugin
promises whatever the simulators do with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.perf.engines import ENGINES
from chipfleet.registry import Registry
from chipfleet.sim.mixed.sharing import SHARING, SharingDecision, SharingState, TypeValue
from chipfleet.sim.serving.routers import ROUTERS, FleetView
from chipfleet.sim.training.policies import (
    POLICIES,
    Decision,
    Head,
    Policy,
    RunningJob,
    RunningOrder,
    TypeInfo,
)
from chipfleet.traces import LOADERS, JobTrace, RequestTrace, TraceKind, load_trace

REGISTRIES: tuple[Registry[Any], ...] = (ROUTERS, POLICIES, SHARING, LOADERS, ENGINES)
EVERY_PLUGIN = [(registry.kind, name) for registry in REGISTRIES for name in registry.names()]


@pytest.mark.parametrize(("kind", "name"), EVERY_PLUGIN, ids=[f"{k}:{n}" for k, n in EVERY_PLUGIN])
def test_every_plugin_says_what_it_does(kind: str, name: str) -> None:
    registry = next(r for r in REGISTRIES if r.kind == kind)
    description = registry.description(name)
    assert len(description) >= 10, f"{kind} {name!r} has no description: give it a docstring or description="
    assert "\n" not in description
    assert registry.get(name.upper()) is registry.get(name)


def test_every_family_is_populated() -> None:
    assert {kind for kind, _ in EVERY_PLUGIN} == {"router", "policy", "sharing policy", "trace", "engine"}


# --- routers: a valid, open replica ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ROUTERS.names())
def test_router_picks_an_open_replica(name: str) -> None:
    router = ROUTERS.get(name)()  # every router builds with its defaults
    closed = FleetView.CLOSED
    view = FleetView(
        instance=["small", "small", "large", "large"],
        outstanding=np.array([3, closed + 1, 0, 5], dtype=np.int64),
        kv_capacity_tokens=np.array([4_000, 4_000, 60_000, 60_000], dtype=np.int64),
    )
    rng = np.random.default_rng(0)
    for k in range(60):
        i = router.choose(100 + 150 * k, 1 + k % 7, view, rng)
        assert isinstance(i, int) and 0 <= i < len(view)
        assert view.is_open(i), f"{name} sent a request to closed replica {i}"
        view.outstanding[i] += 1


@pytest.mark.parametrize("name", ROUTERS.names())
def test_router_answers_on_one_replica_and_on_a_closed_fleet(name: str) -> None:
    rng = np.random.default_rng(1)
    one = FleetView(["x"], np.array([2], dtype=np.int64), np.array([1_000], dtype=np.int64))
    assert ROUTERS.get(name)().choose(10, 10, one, rng) == 0
    shut = FleetView(["x", "y"], np.full(2, FleetView.CLOSED, dtype=np.int64), np.array([1, 2], dtype=np.int64))
    assert ROUTERS.get(name)().choose(10, 10, shut, rng) in (0, 1)


# --- training policies: valid decisions on a tiny cluster -----------------------------------------------------------


@dataclass
class Waiting:
    chips: int
    submit_s: float
    remaining_ref_s: float
    key: float


@dataclass
class TinyCluster:
    """A :class:`ClusterView` over two instance types that applies the policy's decisions and checks each one.

    Type 0: two 8-chip instances; type 1: one 4-chip instance, twice as fast. Nothing advances in time: the test
    is what the policy decides at one instant, which the simulator calls it for until it answers None.
    """

    policy: Policy
    now: float = 100.0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(3))
    types: tuple[TypeInfo, ...] = (
        TypeInfo(0, "slow", 8, 2, 1.0, 32.0, 700.0, 100.0, 1_500.0, custom_silicon=False),
        TypeInfo(1, "fast", 4, 1, 2.0, 40.0, 500.0, 60.0, 800.0, custom_silicon=True),
    )
    free: list[list[int]] = field(default_factory=list)  # free chips per node, per type
    queue: dict[int, Waiting] = field(default_factory=dict)
    running: dict[int, RunningJob] = field(default_factory=dict)
    decisions: int = 0

    def __post_init__(self) -> None:
        self.free = [[t.chips_per_instance] * t.total_instances for t in self.types]

    # -- what the policy reads (ClusterView) --
    @property
    def free_instances(self) -> Sequence[int]:
        return [sum(f == t.chips_per_instance for f in self.free[t.index]) for t in self.types]

    @property
    def free_chips(self) -> Sequence[int]:
        return [sum(node) for node in self.free]

    def _fits(self, free: list[int], t: TypeInfo, chips: int) -> bool:
        if chips <= t.chips_per_instance:
            return any(f >= chips for f in free)
        return sum(f == t.chips_per_instance for f in free) >= t.instances_for(chips)

    def fits(self, type_index: int, chips: int) -> bool:
        return self._fits(self.free[type_index], self.types[type_index], chips)

    def fits_after(self, type_index: int, chips: int, preempted: Sequence[int]) -> bool:
        free = list(self.free[type_index])
        for job in preempted:
            r = self.running[job]
            if r.type_index == type_index:
                for node in r.node_ids:
                    free[node] += r.allocated_chips // r.instances
        return self._fits(free, self.types[type_index], chips)

    @property
    def waiting_count(self) -> int:
        return len(self.queue)

    def heads(self) -> list[Head]:
        best: dict[int, tuple[float, int]] = {}
        for job, w in self.queue.items():
            best[w.chips] = min(best.get(w.chips, (math.inf, job)), (w.key, job))
        return sorted(Head(key, job, chips) for chips, (key, job) in best.items())

    def waiting(self) -> Iterator[int]:
        return iter(list(self.queue))

    def job_chips(self, job: int) -> int:
        return self.queue[job].chips if job in self.queue else self.running[job].chips

    def job_submit_s(self, job: int) -> float:
        return self.queue[job].submit_s if job in self.queue else 0.0

    def job_remaining_ref_s(self, job: int) -> float:
        return self.queue[job].remaining_ref_s if job in self.queue else self.running[job].remaining_ref_s

    def running_on(self, type_index: int) -> Iterator[RunningJob]:
        return iter([r for r in self.running.values() if r.type_index == type_index])

    def running_descending(self, type_index: int, by: RunningOrder = "work") -> Iterator[RunningJob]:
        def size(r: RunningJob) -> float:
            return r.chips * r.remaining_ref_s if by == "work" else r.remaining_ref_s

        return iter(sorted(self.running_on(type_index), key=lambda r: (-size(r), r.job)))

    # -- the mechanism, with the checks the simulator makes --
    def submit(self, job: int, chips: int, submit_s: float, remaining_ref_s: float) -> None:
        key = self.policy.queue_key(submit_s, chips, remaining_ref_s, self.rng)
        assert isinstance(key, float | int) and not math.isnan(key), f"queue_key gave {key!r}"
        self.queue[job] = Waiting(chips, submit_s, remaining_ref_s, float(key))

    def start(self, job: int, type_index: int, started_s: float) -> None:
        assert job in self.queue, f"started job {job}, which is not waiting"
        assert 0 <= type_index < len(self.types), f"no instance type {type_index}"
        t, w = self.types[type_index], self.queue[job]
        assert self.fits(type_index, w.chips), f"job {job} ({w.chips} chips) does not fit on {t.name} now"
        free = self.free[type_index]
        nodes: tuple[int, ...]
        if w.chips <= t.chips_per_instance:
            nodes = (min((i for i in range(len(free)) if free[i] >= w.chips), key=lambda i: free[i]),)
            free[nodes[0]] -= w.chips
        else:
            nodes = tuple(i for i in range(len(free)) if free[i] == t.chips_per_instance)[: t.instances_for(w.chips)]
            for i in nodes:
                free[i] = 0
        del self.queue[job]
        held = t.held_chips(w.chips)
        self.running[job] = RunningJob(job, type_index, len(nodes), w.chips, held, w.remaining_ref_s, started_s, nodes)

    def preempt(self, job: int) -> None:
        assert job in self.running, f"preempted job {job}, which is not running"
        r = self.running.pop(job)
        assert r.started_s < self.now, f"preempted job {job} in the instant it started"
        for node in r.node_ids:
            self.free[r.type_index][node] += r.allocated_chips // r.instances
        self.submit(job, r.chips, 0.0, r.remaining_ref_s)

    def finish_all(self) -> None:
        """Every running job completes: its chips come back."""
        for r in self.running.values():
            for node in r.node_ids:
                self.free[r.type_index][node] += r.allocated_chips // r.instances
        self.running.clear()

    def settle(self) -> None:
        """Ask the policy until it answers None, applying and checking each decision."""
        for _ in range(50):
            decision = self.policy.decide(self)
            if decision is None:
                return
            assert isinstance(decision, Decision)
            assert decision.starts or decision.preempt, "an empty decision: answer None when nothing should happen"
            assert not decision.preempt or self.policy.preemptive, "a non-preemptive policy preempted"
            self.decisions += 1
            for job in decision.preempt:
                self.preempt(job)
            for s in decision.starts:
                self.start(s.job, s.type_index, self.now)
        pytest.fail("the policy never answered None: it would loop forever")


def tiny_cluster(name: str) -> TinyCluster:
    """Two long jobs already running (one per type), then a queue of a small, a one-node, a two-node and an
    impossible job."""
    options: dict[str, object] = {"restart_penalty_s": 5.0} if POLICIES.get(name)().preemptive else {}
    view = TinyCluster(POLICIES.get(name)(**options))
    view.submit(0, 8, 0.0, 50_000.0)
    view.start(0, 0, 0.0)
    view.submit(1, 4, 10.0, 30_000.0)
    view.start(1, 1, 10.0)
    for job, (chips, submit_s, work) in enumerate([(2, 60.0, 100.0), (8, 70.0, 50.0), (16, 80.0, 10.0)], start=2):
        view.submit(job, chips, submit_s, work)
    view.submit(5, 1_000, 90.0, 1.0)  # more chips than the cluster has: never starts
    return view


@pytest.mark.parametrize("name", POLICIES.names())
def test_policy_makes_valid_decisions(name: str) -> None:
    view = tiny_cluster(name)
    assert view.policy.name == name
    view.settle()
    assert 5 in view.queue, "the impossible job must stay waiting"
    assert all(0 <= f <= t.chips_per_instance for t in view.types for f in view.free[t.index])
    held = sum(r.allocated_chips for r in view.running.values())
    assert held + sum(view.free_chips) == sum(t.total_instances * t.chips_per_instance for t in view.types)
    # Once it has answered None it stays None until the cluster changes; then it is asked again.
    assert view.policy.decide(view) is None
    view.finish_all()
    view.now += 1.0
    view.settle()
    startable = [j for j, w in view.queue.items() if any(view.fits(t.index, w.chips) for t in view.types)]
    assert not startable or view.running, f"an idle cluster and jobs {startable} that fit, but nothing started"


@pytest.mark.parametrize("name", POLICIES.names())
def test_policy_on_an_empty_queue_does_nothing(name: str) -> None:
    view = TinyCluster(POLICIES.get(name)())
    assert view.policy.decide(view) is None


# --- sharing policies: a valid split of the fleet --------------------------------------------------------------------

VALUES = [
    TypeValue("inf2.48xlarge", serve_tokens_per_s=9_000.0, train_speed=0.0, price_usd_per_h=12.98),
    TypeValue("p4d.24xlarge", serve_tokens_per_s=12_000.0, train_speed=1.0, price_usd_per_h=21.96),
    TypeValue("p5.48xlarge", serve_tokens_per_s=30_000.0, train_speed=2.6, price_usd_per_h=55.04),
]


STEADY = SharingState(
    now_s=600.0,
    serving_nodes=2,
    serving_replicas=4,
    ttft_p90_s=0.4,
    excess_p90_s=0.1,
    utilization=0.6,
    waiting_requests=1,
    waiting_jobs=3,
    free_nodes=1,
    target_ttft_s=1.0,
    shrink_below=0.5,
    load_share=0.25,
)

STATES = {
    "steady": STEADY,
    "backlogged": replace(STEADY, waiting_requests=40),
    "over target": replace(STEADY, ttft_p90_s=3.0, excess_p90_s=2.5),
    "idle": replace(STEADY, ttft_p90_s=math.nan, excess_p90_s=math.nan, waiting_requests=0, utilization=0.0),
    "one replica, idle": replace(STEADY, serving_replicas=1, serving_nodes=1, ttft_p90_s=0.01, waiting_requests=0),
}


@pytest.mark.parametrize("name", SHARING.names())
def test_sharing_policy_orders_every_type_once(name: str) -> None:
    policy = SHARING.get(name)()
    assert policy.name == name
    order = policy.type_order(VALUES)
    assert sorted(order) == sorted(v.name for v in VALUES), f"{name} must order each type exactly once"
    assert policy.type_order(list(reversed(VALUES)))[0] in order


@pytest.mark.parametrize("name", SHARING.names())
@pytest.mark.parametrize("situation", sorted(STATES))
def test_sharing_policy_decides_a_valid_target(name: str, situation: str) -> None:
    decision = SHARING.get(name)().decide(STATES[situation])
    if decision is None:  # a fixed partition: never resizes, whatever the state
        assert all(SHARING.get(name)().decide(s) is None for s in STATES.values())
        return
    assert isinstance(decision, SharingDecision)
    assert isinstance(decision.target_serving_replicas, int) and decision.target_serving_replicas >= 0
    assert isinstance(decision.may_evict_training, bool)


# --- trace loaders: a valid trace of the kind registered -------------------------------------------------------------


@cache
def loaded(name: str) -> RequestTrace | JobTrace:
    return LOADERS.get(name).loader()


@pytest.mark.parametrize("name", LOADERS.names())
def test_loader_yields_a_valid_trace(name: str) -> None:
    info = LOADERS.get(name)
    trace = loaded(name)
    assert info.name == name
    assert isinstance(trace, RequestTrace if info.kind == "requests" else JobTrace)
    assert trace.kind == info.kind
    assert trace.name == name
    assert trace.source and trace.license
    assert len(trace) > 0
    times = trace.arrival_s if isinstance(trace, RequestTrace) else trace.submit_s
    assert times.dtype == np.float64
    assert times[0] == 0.0
    assert np.all(np.isfinite(times))
    assert np.all(np.diff(times) >= 0), "times must be sorted ascending"
    assert not times.flags.writeable
    if isinstance(trace, RequestTrace):
        assert trace.input_tokens.dtype == np.int64 and trace.output_tokens.dtype == np.int64
        assert len(trace.input_tokens) == len(trace.output_tokens) == len(times)
        assert trace.input_tokens.min() >= 0
        assert trace.output_tokens.min() >= 1
        if trace.hash_ids is not None:
            assert len(trace.hash_ids) == len(trace)
            assert trace.block_tokens is not None and trace.block_tokens >= 1
        else:
            assert trace.block_tokens is None
    else:
        assert trace.chips.dtype == np.int64 and trace.duration_s.dtype == np.float64
        assert len(trace.chips) == len(trace.duration_s) == len(times)
        assert trace.chips.min() >= 1
        assert trace.duration_s.min() >= 0
    summary = trace.describe()
    assert summary["count"] == len(trace) and summary["kind"] == info.kind


@pytest.mark.parametrize("name", LOADERS.names())
def test_loader_accepts_skip_bad_rows(name: str) -> None:
    trace = LOADERS.get(name).loader(skip_bad_rows=True)
    assert len(trace) + trace.skipped_rows == len(loaded(name)) + loaded(name).skipped_rows


@pytest.mark.parametrize("name", LOADERS.names())
def test_loader_kind_is_checked(name: str) -> None:
    kind = LOADERS.get(name).kind
    other: TraceKind = "jobs" if kind == "requests" else "requests"
    assert load_trace(name, kind=kind).kind == kind
    with pytest.raises(ConfigError, match=f"holds {kind}, not {other}"):
        load_trace(name, kind=other)
