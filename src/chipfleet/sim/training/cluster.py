"""Job-level simulation of a training cluster: trace jobs queue, a policy places them on chips of one type.

Events are submissions, completions and preemptions on the :class:`~chipfleet.sim.kernel.Simulation`
kernel. After anything changes, a decision event (priority 1, so after every event of the same instant) asks
the policy (:mod:`chipfleet.sim.training.policies`) for decisions until it has none. Jobs ask for chips
(:class:`~chipfleet.sim.fleet.TypeChips`): a job of ``g ≤ c`` chips (``c`` per instance) takes ``g`` chips
of one instance and shares it with other such jobs (best fit); a larger job takes ``⌈g / c⌉`` whole
instances. A node is held in the shared :class:`Pool` under the owner tag ``train`` while any of its chips
are allocated. A job advances ``r_X`` reference seconds of work per second on type ``X``
(:mod:`chipfleet.sim.training.throughput`). The simulation uses the nodes that are free in the pool when it starts
(plus those it frees itself, and those :meth:`TrainingCluster.nodes_freed` hands it); nodes another
simulator holds stay untouched, and a node another simulator takes from under it is dropped from its books.

The books it keeps are :mod:`chipfleet.sim.training.accounting`; the results it returns
:mod:`chipfleet.sim.training.results`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from functools import partial

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError
from chipfleet.sim.fleet import Node, Pool, TypeChips
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.training.accounting import RunBooks, fleet_totals, pue_note, type_usage
from chipfleet.sim.training.policies import (
    ClusterView,
    Decision,
    Head,
    Policy,
    RunningJob,
    RunningOrder,
    TypeInfo,
)
from chipfleet.sim.training.results import COST_NOTE, ClusterResult, Distribution, Unplaceable
from chipfleet.sim.training.running import Run, RunningIndex
from chipfleet.sim.training.throughput import CUSTOM_SILICON_VENDORS, ThroughputMatrix
from chipfleet.traces.schema import JobTrace

_PENDING, _WAITING, _RUNNING, _DONE, _REJECTED = 0, 1, 2, 3, 4
_DECIDE_PRIORITY = 1
OWNER = "train"  # the pool owner tag of a node training holds chips on


class _View:
    """The read-only :class:`ClusterView` the policy gets."""

    __slots__ = ("_c",)

    def __init__(self, cluster: TrainingCluster) -> None:
        self._c = cluster

    @property
    def now(self) -> float:
        return self._c.sim.now

    @property
    def types(self) -> Sequence[TypeInfo]:
        return self._c.types

    @property
    def free_instances(self) -> Sequence[int]:
        return tuple(b.whole_free for b in self._c._books)

    @property
    def free_chips(self) -> Sequence[int]:
        return tuple(b.free_chips for b in self._c._books)

    def fits(self, type_index: int, chips: int) -> bool:
        return self._c._books[type_index].fits(chips)

    def fits_after(self, type_index: int, chips: int, preempted: Sequence[int]) -> bool:
        return self._c._fits_after(type_index, chips, preempted)

    @property
    def waiting_count(self) -> int:
        return self._c._n_waiting

    @property
    def rng(self) -> np.random.Generator:
        return self._c.sim.rng

    def heads(self) -> list[Head]:
        return self._c._heads()

    def waiting(self) -> Iterator[int]:
        c = self._c
        for heap in c._queues.values():
            for _, job, seq in heap:
                if c._state[job] == _WAITING and c._qseq[job] == seq:
                    yield job

    def job_chips(self, job: int) -> int:
        return self._c._chips[job]

    def job_submit_s(self, job: int) -> float:
        return self._c._submit[job]

    def job_remaining_ref_s(self, job: int) -> float:
        return self._c._remaining_now(job)

    def running_on(self, type_index: int) -> Iterator[RunningJob]:
        c = self._c
        for job in list(c._index[type_index].jobs):
            yield c._running_job(job)

    def running_descending(self, type_index: int, by: RunningOrder = "work") -> Iterator[RunningJob]:
        c = self._c
        return (c._running_job(job) for job in c._index[type_index].descending(c.sim.now, by))


class TrainingCluster:
    """The mechanism: queues, node allocation and events for one trace on one pool.

    Use :func:`~chipfleet.sim.training.simulate.simulate_training`, or attach several simulators to one
    :class:`Simulation` (mixed mode): ``TrainingCluster(sim, ...).start()`` then ``sim.run(...)`` then
    ``.result()``.
    """

    def __init__(
        self,
        sim: Simulation,
        trace: JobTrace,
        pool: Pool,
        policy: Policy,
        matrix: ThroughputMatrix,
        *,
        window_s: float | None = None,
        instance_types: Sequence[str] | None = None,
    ) -> None:
        if window_s is not None and not window_s > 0:
            raise ConfigError(f"window_s must be > 0, got {window_s}", field="window_s")
        self.sim = sim
        self.trace = trace
        self.pool = pool
        self.policy = policy
        self.matrix = matrix
        self._window_s = window_s
        self.view: ClusterView = _View(self)
        self._policy_name = str(getattr(policy, "name", type(policy).__name__))
        self._penalty_s = float(policy.restart_penalty_s)
        if self._penalty_s < 0:
            raise ConfigError(f"restart_penalty_s must be >= 0, got {self._penalty_s}", field="restart_penalty_s")

        # In a mixed fleet some types only serve (e.g. Inferentia): training is told which types are its.
        names = pool.instance_types() if instance_types is None else list(instance_types)
        if not names:
            raise ConfigError("the pool has no nodes" if instance_types is None else "training has no instance types")
        self._type_nodes = [[n for n in pool.nodes if n.instance.name == name] for name in names]
        types = [type_info(i, nodes, matrix, pool.catalog) for i, nodes in enumerate(self._type_nodes)]
        self._books = [
            TypeChips(info.chips_per_instance, (n for n in nodes if n.owner is None), OWNER, pool.ledger)
            for info, nodes in zip(types, self._type_nodes, strict=True)
        ]
        self.types: tuple[TypeInfo, ...] = tuple(types)
        self._type_of = {info.name: info.index for info in types}
        self._node_jobs: dict[int, dict[int, None]] = {}  # node id -> jobs holding chips on it
        most = max(types, key=lambda t: (t.total_instances * t.chips_per_instance, -t.index))
        widest = max(types, key=lambda t: (t.chips_per_instance, -t.index))
        self._capacity_chips = most.total_instances * most.chips_per_instance
        self._capacity_names = (most.name, widest.name, widest.chips_per_instance)

        n = len(trace)
        self._submit: list[float] = trace.submit_s.tolist()
        self._chips: list[int] = trace.chips.tolist()
        self._remaining: list[float] = trace.duration_s.tolist()
        self._state = [_PENDING] * n
        self._qseq = [0] * n
        self._epoch = [0] * n
        self._needs_restart = [False] * n
        self._first_start = [math.nan] * n
        self._finish = [math.nan] * n
        self._last_type = [-1] * n
        self._preemptions = 0
        self._n_waiting = 0
        self._queues: dict[int, list[tuple[float, int, int]]] = {}
        self._runs: dict[int, Run] = {}
        # Per type, the running jobs and the heaps that order them for largest-first queries.
        self._index = [RunningIndex(info.relative_speed, self._runs, self._chips) for info in types]
        self._run_books = RunBooks(len(types))
        self._next_arrival = 0
        self._decide_pending = False
        self._started = False
        self._start_events = 0

    def unplaceable(self, jobs: int | None = None) -> Unplaceable:
        """The trace's jobs that ask for more chips than any one type has (``jobs`` overrides the count: the
        result counts those refused so far). Known before the run: :func:`simulate_training` checks it."""
        chips = self.trace.chips
        count = int(np.count_nonzero(chips > self._capacity_chips)) if jobs is None else jobs
        most_type, widest_type, widest_chips = self._capacity_names
        return Unplaceable(
            jobs=count,
            total_jobs=len(self.trace),
            largest_request_chips=int(chips.max()) if chips.size else 0,
            largest_node_chips=widest_chips,
            largest_node_type=widest_type,
            most_chips_per_job=self._capacity_chips,
            most_chips_type=most_type,
        )

    def require_placeable(self) -> None:
        """Raise :class:`ConfigError` when the trace has jobs and none of them fits the fleet."""
        u = self.unplaceable()
        if u.every_job:
            raise ConfigError(u.error(), field="fleet")

    # --- events ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the first submission (call once, before ``sim.run``)."""
        if self._started:
            raise RuntimeError("this TrainingCluster has already been started")
        self._started = True
        self._start_events = self.sim.events_run
        if len(self.trace):
            self.sim.schedule(self._submit[0], self._arrive)

    def _arrive(self) -> None:
        """Submit every job whose time is now; schedule the next submission."""
        submit = self._submit
        i = self._next_arrival
        now = self.sim.now
        n = len(submit)
        rng = self.sim.rng
        while i < n and submit[i] <= now:
            g = self._chips[i]
            if g > self._capacity_chips:
                self._state[i] = _REJECTED
            else:
                self._enqueue(i, rng)
            i += 1
        self._next_arrival = i
        if i < n:
            self.sim.schedule(submit[i], self._arrive)
        self._request_decision()

    def _enqueue(self, job: int, rng: np.random.Generator) -> None:
        g = self._chips[job]
        key = self.policy.queue_key(self._submit[job], g, self._remaining[job], rng)
        seq = self._qseq[job] + 1
        self._qseq[job] = seq
        self._state[job] = _WAITING
        self._n_waiting += 1
        heap = self._queues.get(g)
        if heap is None:
            heap = self._queues[g] = []
        heapq.heappush(heap, (key, job, seq))

    def _heads(self) -> list[Head]:
        out = []
        state = self._state
        qseq = self._qseq
        for g, heap in self._queues.items():
            while heap:
                key, job, seq = heap[0]
                if state[job] == _WAITING and qseq[job] == seq:
                    out.append(Head(key, job, g))
                    break
                heapq.heappop(heap)
        return out

    def _request_decision(self) -> None:
        if not self._decide_pending:
            self._decide_pending = True
            self.sim.schedule(self.sim.now, self._decide, _DECIDE_PRIORITY)

    def _decide(self) -> None:
        self._decide_pending = False
        policy = self.policy
        if self._n_waiting == 0 and not policy.preemptive:
            return
        view = self.view
        while True:
            d = policy.decide(view)
            if d is None or (not d.starts and not d.preempt):
                return
            self._apply(d)

    def _apply(self, d: Decision) -> None:
        now = self.sim.now
        name = self._policy_name
        for job in d.preempt:
            run = self._runs.get(job)
            if run is None or self._state[job] != _RUNNING:
                raise RuntimeError(f"policy {name} preempted job {job}, which is not running")
            if run.alloc_s >= now:
                raise RuntimeError(f"policy {name} preempted job {job} in the instant it started (t={now})")
            self._preempt(job)
        for start in d.starts:
            self._start(start.job, start.type_index, name)

    def _preempt(self, job: int) -> None:
        self._stop(job, completed=False)
        self._preemptions += 1
        self._needs_restart[job] = True
        self._enqueue(job, self.sim.rng)

    # --- sharing the pool with another simulator (mixed mode) ----------------------------------------------

    def jobs_on(self, node: Node) -> list[int]:
        """The training jobs holding chips on ``node`` (several when single-instance jobs share it)."""
        return list(self._node_jobs.get(node.id, ()))

    def nodes_of(self, job: int) -> list[Node]:
        """The nodes a running job holds chips on (empty when it is not running)."""
        run = self._runs.get(job)
        return run.nodes if run is not None else []

    def evict(self, job: int) -> list[Node]:
        """Another simulator needs ``job``'s nodes: stop it (it requeues and pays the restart penalty) and
        return those of its nodes that are now wholly free (nodes other jobs still share are not), withdrawn
        from training's books. Give back any it does not use with :meth:`nodes_freed`."""
        return self._evict([job])

    def evict_node(self, node: Node) -> list[Node]:
        """Evict every training job holding chips on ``node`` (see :meth:`evict`), so that it is free."""
        return self._evict(self.jobs_on(node))

    def _evict(self, jobs: Iterable[int]) -> list[Node]:
        touched: dict[int, Node] = {}
        for job in jobs:
            run = self._runs.get(job)
            if run is None or self._state[job] != _RUNNING:
                raise RuntimeError(f"job {job} is not running, so it cannot be evicted")
            for node in run.nodes:
                touched.setdefault(node.id, node)
            self._preempt(job)
        freed = [node for node in touched.values() if node.owner is None]
        self.withdraw(freed)
        self._request_decision()
        return freed

    def withdraw(self, nodes: Iterable[Node]) -> None:
        """Remove free ``nodes`` from training's use until :meth:`nodes_freed` gives them back."""
        for node in nodes:
            if node.owner is not None:
                raise RuntimeError(f"node {node.id} is held by {node.owner}; only free nodes can be withdrawn")
            t = self._type_of.get(node.instance.name)
            if t is not None:
                self._books[t].remove(node)

    def nodes_freed(self, nodes: Iterable[Node]) -> None:
        """Another simulator sharing the pool released ``nodes``: training may use them from now on."""
        for node in nodes:
            t = self._type_of.get(node.instance.name)
            if t is not None and node.owner is None:
                self._books[t].add(node)
        self._request_decision()

    def _fits_after(self, t: int, chips: int, preempted: Sequence[int]) -> bool:
        freed: dict[int, int] = {}
        for job in preempted:
            run = self._runs.get(job)
            if run is None or run.type_index != t:
                continue
            for node, k in run.alloc:
                freed[node.id] = freed.get(node.id, 0) + k
        return self._books[t].fits_after(chips, freed)

    def _start(self, job: int, t: int, policy_name: str) -> None:
        if self._state[job] != _WAITING:
            raise RuntimeError(f"policy {policy_name} started job {job}, which is not waiting")
        if not 0 <= t < len(self.types):
            raise RuntimeError(f"policy {policy_name} chose type index {t}; the fleet has {len(self.types)} types")
        info = self.types[t]
        g = self._chips[job]
        books = self._books[t]
        now = self.sim.now
        stale = books.stale_dropped
        alloc = books.take(g, now)
        if alloc is None:
            if books.stale_dropped > stale:
                return  # another simulator had taken a node the policy counted; it is asked again
            room = (
                f"the most free on one node is {books.largest_free()}"
                if g <= info.chips_per_instance
                else f"it needs {info.instances_for(g)} wholly free nodes and only {books.whole_free} are free"
            )
            raise RuntimeError(f"policy {policy_name} started job {job} ({g} chips) on {info.name}, but {room}")
        cpi = info.chips_per_instance
        busy: list[int] = []
        left = g
        for node, _ in alloc:
            busy.append(min(cpi, left))
            left -= busy[-1]
            self._node_jobs.setdefault(node.id, {})[job] = None
        self._state[job] = _RUNNING
        self._n_waiting -= 1
        if math.isnan(self._first_start[job]):
            self._first_start[job] = now
        penalty = self._penalty_s if self._needs_restart[job] else 0.0
        self._needs_restart[job] = False
        epoch = self._epoch[job] + 1
        self._epoch[job] = epoch
        compute_s = now + penalty
        remaining = self._remaining[job]
        run = self._runs[job] = Run(t, alloc, busy, now, compute_s, remaining, epoch)
        # The pool's ledger counts the busy chips from compute start (any reader sees them up to its time).
        on = [(node.id, used) for (node, _), used in zip(alloc, busy, strict=True)]
        self.pool.ledger.open_busy((OWNER, job, epoch), OWNER, compute_s, on)
        if self._index[t].add(job, run, now):
            self.sim.schedule(compute_s, partial(self._index[t].computing_starts, job, epoch, compute_s))
        self._run_books.runs_started[t] += 1
        self._last_type[job] = t
        self.sim.schedule(compute_s + remaining / info.relative_speed, partial(self._complete, job, epoch))

    def _complete(self, job: int, epoch: int) -> None:
        if self._epoch[job] != epoch or self._state[job] != _RUNNING:
            return  # superseded by a preemption
        self._stop(job, completed=True)
        self._request_decision()

    def _running_job(self, job: int) -> RunningJob:
        run = self._runs[job]
        return RunningJob(
            job,
            run.type_index,
            len(run.alloc),
            self._chips[job],
            run.held_chips,
            self._remaining_now(job),
            run.alloc_s,
            tuple(node.id for node, _ in run.alloc),
        )

    def _remaining_now(self, job: int) -> float:
        run = self._runs.get(job)
        if run is None or self._state[job] != _RUNNING:
            return self._remaining[job]
        rel = self.types[run.type_index].relative_speed
        done = max(0.0, self.sim.now - run.compute_s) * rel
        return max(0.0, run.remaining_at_compute_s - done)

    def _stop(self, job: int, *, completed: bool) -> None:
        """End a run: account busy time, free the nodes; the job is done or (preempted) about to wait."""
        now = self.sim.now
        if completed:
            self._remaining[job] = 0.0
            self._state[job] = _DONE
            self._finish[job] = now
        else:
            self._remaining[job] = self._remaining_now(job)
        run = self._runs.pop(job)
        t = run.type_index
        g = self._chips[job]
        self._run_books.add(t, g, run.held_chips, run.alloc_s, run.compute_s, now)
        self.pool.ledger.close_busy((OWNER, job, run.epoch), now)
        self._books[t].give(run.alloc, now)
        for node in run.nodes:
            on = self._node_jobs[node.id]
            del on[job]
            if not on:
                del self._node_jobs[node.id]
        self._index[t].remove(job, now)
        self._epoch[job] += 1

    # --- result ------------------------------------------------------------------------------------------

    def result(self, until: float | None = None, seed: int = 0) -> ClusterResult:
        """Summarise the run up to its span (reading the books and the pool's ledger; nothing is changed, so
        it may be taken any number of times).

        The span is the makespan when every job completed or was rejected, else ``until`` (the run was cut
        short) or, without it, the later of the last completion and the last submission.
        """
        finish = np.array(self._finish, dtype=np.float64)
        done = ~np.isnan(finish)
        makespan = float(finish[done].max()) if done.any() else math.nan
        settled = all(s in (_DONE, _REJECTED) for s in self._state)
        last = max(makespan if done.any() else 0.0, self.trace.span_s)
        span = last if settled or until is None or not math.isfinite(until) else float(until)
        # Jobs still running at the end count as busy and allocated up to it (in a copy of the books).
        running = [
            (run.type_index, self._chips[job], run.held_chips, run.alloc_s, run.compute_s)
            for job, run in self._runs.items()
        ]
        books = self._run_books.with_running(running, span)

        submit = np.array(self._submit, dtype=np.float64)
        first = np.array(self._first_start, dtype=np.float64)
        started = ~np.isnan(first)
        state = np.array(self._state, dtype=np.int64)
        rejected = int((state == _REJECTED).sum())
        completed = int(done.sum())

        window_s = self._window_s if self._window_s is not None else (span / 100.0 if span > 0 else 1.0)
        windows = max(1, math.ceil(span / window_s)) if span > 0 else 1
        over_time = books.utilization_windows(self.types, span, window_s, windows)

        busy_by_node = self.pool.ledger.busy_by_node(span)
        usages = [
            type_usage(
                info,
                self._type_nodes[info.index],
                busy_by_node,
                span,
                busy_chip_s=books.busy_chip_s[info.index],
                allocated_chip_s=books.allocated_chip_s[info.index],
                held_instance_s=self._books[info.index].held_node_s(span),
                runs_started=books.runs_started[info.index],
                utilization_over_time=tuple(float(v) for v in over_time[info.index]),
            )
            for info in self.types
        ]
        totals = fleet_totals(usages, span)
        return ClusterResult(
            trace=self.trace.name,
            policy=self._policy_name,
            seed=seed,
            jobs=len(self.trace),
            completed=completed,
            unplaceable=self.unplaceable(rejected),
            unfinished=len(self.trace) - completed - rejected,
            preemptions=self._preemptions,
            span_s=span,
            makespan_s=makespan,
            jct_s=Distribution.of(finish[done] - submit[done]),
            queueing_s=Distribution.of(first[started] - submit[started]),
            window_s=window_s,
            types=tuple(usages),
            utilization=totals.busy_chip_s / totals.chip_s if totals.chip_s > 0 else math.nan,
            busy_chip_s=totals.busy_chip_s,
            allocated_chip_s=totals.allocated_chip_s,
            allocated_share=totals.allocated_chip_s / totals.chip_s if totals.chip_s > 0 else math.nan,
            cost_usd=totals.cost_usd,
            held_idle_cost_usd=totals.held_idle_cost_usd,
            unused_cost_usd=totals.unused_cost_usd,
            fleet_cost_usd=totals.fleet_cost_usd,
            cost_note=COST_NOTE,
            energy_kwh=totals.energy_kwh,
            pue_note=pue_note(self._type_nodes, self.pool.pue_override),
            chip_hours=totals.busy_chip_s / 3600.0,
            custom_silicon_chip_share=(
                totals.custom_busy_chip_s / totals.busy_chip_s if totals.busy_chip_s > 0 else math.nan
            ),
            custom_silicon_work_share=(
                totals.custom_work_ref_chip_s / totals.work_ref_chip_s if totals.work_ref_chip_s > 0 else math.nan
            ),
            work_ref_chip_h=totals.work_ref_chip_s / 3600.0,
            events=self.sim.events_run - self._start_events,
            matrix=self.matrix,
            first_start_s=first,
            finish_s=finish,
            last_type=np.array(self._last_type, dtype=np.int64),
            co2_kg=totals.co2_kg,
        )


def type_info(index: int, nodes: Sequence[Node], matrix: ThroughputMatrix, catalog: Catalog) -> TypeInfo:
    """What a policy knows of one instance type: its nodes' shape, price and power, and its relative speed."""
    first = nodes[0]
    name = first.instance.name
    if name not in matrix.types:
        raise ConfigError(
            f"the throughput matrix has no speed for {name} (it covers {', '.join(matrix.types)}); "
            "build it for the pool: throughput_matrix(catalog, pool.instance_types())"
        )
    return TypeInfo(
        index=index,
        name=name,
        chips_per_instance=first.chips,
        total_instances=len(nodes),
        relative_speed=matrix.relative(name),
        price_usd_per_h=first.price_usd_per_h,
        chip_busy_w=first.power.chip_tdp_w,
        chip_idle_w=first.power.chip_idle_w,
        host_w=first.power.host_w,
        custom_silicon=catalog.chip(first.instance.chip).vendor in CUSTOM_SILICON_VENDORS,
    )
