"""The runs of a training cluster and, per instance type, an index of them for largest-first queries.

On one type every computing job's remaining work falls at the same rate ``r``, so remaining = F − r·now
with F = (remaining when computing started) + r·(compute start), fixed for the run: a heap on F per chip
count orders each group exactly at any time. A job in its restart penalty does not progress; it sits in
a second heap per chip count, on its (constant) remaining, until an event at its compute start moves
it. Entries of runs that ended or moved are skipped, dropped when they reach a heap's top, and the
heaps are rebuilt once they hold more stale entries than live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from chipfleet.sim.fleet import Node
from chipfleet.sim.training.policies import RunningOrder

_Entry = tuple[float, int, int]  # (−key, job, epoch)


@dataclass
class Run:
    """One run of a job on one type (until it completes or is preempted)."""

    type_index: int
    alloc: list[tuple[Node, int]]  # (node, chips held on it)
    busy: list[int]  # chips computing on each node of ``alloc``
    alloc_s: float  # chips taken
    compute_s: float  # computing starts (after a restart penalty)
    remaining_at_compute_s: float  # reference seconds of work left when computing starts
    epoch: int
    in_computing_index: bool = False

    @property
    def nodes(self) -> list[Node]:
        return [node for node, _ in self.alloc]

    @property
    def held_chips(self) -> int:
        return sum(k for _, k in self.alloc)


class RunningIndex:
    """The jobs running on one instance type (``jobs``, in start order) and the heaps that order them.

    ``runs`` and ``chips`` are the cluster's (job → its current run, job → chips asked for), read, never
    written, except that a run's ``in_computing_index`` is set when it enters the computing heaps.
    """

    def __init__(self, relative_speed: float, runs: Mapping[int, Run], chips: Sequence[int]) -> None:
        self.relative_speed = relative_speed
        self.jobs: dict[int, None] = {}
        self._runs = runs
        self._chips = chips
        self._computing: dict[int, list[_Entry]] = {}  # chips -> heap of (−F, job, epoch)
        self._restarting: dict[int, list[_Entry]] = {}  # chips -> heap of (−remaining, job, epoch)
        self._stale = 0

    def add(self, job: int, run: Run, now_s: float) -> bool:
        """Index a run that starts now; True when it is in a restart penalty (the caller then calls
        :meth:`computing_starts` at its compute start)."""
        self.jobs[job] = None
        g = self._chips[job]
        if run.compute_s > now_s:
            heapq.heappush(self._restarting.setdefault(g, []), (-run.remaining_at_compute_s, job, run.epoch))
            return True
        self._push_computing(g, job, run)
        return False

    def computing_starts(self, job: int, epoch: int, now_s: float) -> None:
        """A restarted job's penalty is over: move it to the computing heaps."""
        run = self._runs.get(job)
        if run is None or run.epoch != epoch or run.in_computing_index:
            return  # ended, or a rebuild at this instant moved it already
        g = self._chips[job]
        self._push_computing(g, job, run)
        self._stale += 1
        self._drop_stale_tops(g, now_s)

    def remove(self, job: int, now_s: float) -> None:
        """A run ended (its entry in ``runs`` is gone already)."""
        del self.jobs[job]
        self._stale += 1
        self._drop_stale_tops(self._chips[job], now_s)
        if self._stale > 64 and self._stale > len(self.jobs):
            self._rebuild(now_s)

    def descending(self, now_s: float, by: RunningOrder) -> Iterator[int]:
        """Running jobs, largest current ``by`` first, read lazily.

        A frontier walks the heap arrays of every group (both kinds) in the order of their exact values,
        ``weight × remaining`` with weight the chips (``work``) or 1 (``remaining``), without changing
        them; stale entries are passed over. Valid until the simulation next changes (the policy returns).
        """
        x = self.relative_speed * now_s
        runs = self._runs
        weight = by == "work"
        heaps = (self._computing, self._restarting)
        # (−value, job, kind, chips, position): ties go to the lower job id, as in the heaps themselves.
        frontier: list[tuple[float, int, int, int, int]] = []
        for kind, groups in enumerate(heaps):
            shift = x if kind == 0 else 0.0
            for g, heap in groups.items():
                if heap:
                    frontier.append(((g if weight else 1) * (heap[0][0] + shift), heap[0][1], kind, g, 0))
        heapq.heapify(frontier)
        while frontier:
            _, job, kind, g, i = heapq.heappop(frontier)
            heap = heaps[kind][g]
            shift = x if kind == 0 else 0.0
            w = g if weight else 1
            n = len(heap)
            for k in (2 * i + 1, 2 * i + 2):
                if k < n:
                    heapq.heappush(frontier, (w * (heap[k][0] + shift), heap[k][1], kind, g, k))
            epoch = heap[i][2]
            run = runs.get(job)
            if run is not None and run.epoch == epoch and (kind == 0 or run.compute_s > now_s):
                yield job

    def _push_computing(self, g: int, job: int, run: Run) -> None:
        f = run.remaining_at_compute_s + self.relative_speed * run.compute_s
        heapq.heappush(self._computing.setdefault(g, []), (-f, job, run.epoch))
        run.in_computing_index = True

    def _drop_stale_tops(self, g: int, now_s: float) -> None:
        for kind, groups in enumerate((self._computing, self._restarting)):
            heap = groups.get(g)
            while heap:
                _, job, epoch = heap[0]
                run = self._runs.get(job)
                if run is not None and run.epoch == epoch and (kind == 0 or run.compute_s > now_s):
                    break
                heapq.heappop(heap)

    def _rebuild(self, now_s: float) -> None:
        self._computing.clear()
        self._restarting.clear()
        for job in self.jobs:
            run = self._runs[job]
            g = self._chips[job]
            if run.compute_s > now_s:
                self._restarting.setdefault(g, []).append((-run.remaining_at_compute_s, job, run.epoch))
            else:
                f = run.remaining_at_compute_s + self.relative_speed * run.compute_s
                self._computing.setdefault(g, []).append((-f, job, run.epoch))
                run.in_computing_index = True
        for groups in (self._computing, self._restarting):
            for heap in groups.values():
                heapq.heapify(heap)
        self._stale = 0
