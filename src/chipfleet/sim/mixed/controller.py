"""The sharing controller: every control interval, asks a sharing policy for serving's size and carries it out.

Growing serving takes free nodes first, re-opens nodes it is still draining, and, when the policy allows,
evicts training jobs; shrinking serving drains a node and hands it to training once its requests finish
(see :mod:`chipfleet.sim.mixed.simulate` for the whole story).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError
from chipfleet.sim.fleet import FleetSpec, Node
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.metrics import LogHistogram
from chipfleet.sim.mixed.sharing import SharingPolicy, SharingState
from chipfleet.sim.serving.system import ServingSystem
from chipfleet.sim.training.cluster import TrainingCluster

_CONTROL_PRIORITY = 2  # after arrivals (1) and training decisions (1) at the same instant


@dataclass(frozen=True)
class MixedOptions:
    """How the controller acts. ``serve_fleet``: the nodes serving starts with (default: ``min_serving_nodes``
    of the type the policy ranks first); for ``partition`` it is the whole serving share."""

    control_interval_s: float = 60.0
    target_ttft_s: float = 1.0  # p90 time to first token serving is scaled to hold
    shrink_below: float = 0.5  # give a node back when p90 TTFT is under this share of the target
    load_share: float = 0.25  # grow only when the p90 load-added delay is at least this share of the target
    min_serving_nodes: int = 1
    serve_fleet: FleetSpec | None = None

    def __post_init__(self) -> None:
        if not self.control_interval_s > 0:
            raise ConfigError(
                f"control_interval_s must be > 0, got {self.control_interval_s}", field="control_interval_s"
            )
        if not self.target_ttft_s > 0:
            raise ConfigError(f"target_ttft_s must be > 0, got {self.target_ttft_s}", field="target_ttft_s")
        if not 0 <= self.shrink_below < 1:
            raise ConfigError(f"shrink_below must be in [0, 1), got {self.shrink_below}", field="shrink_below")
        if not 0 <= self.load_share <= 1:
            raise ConfigError(f"load_share must be in [0, 1], got {self.load_share}", field="load_share")
        if self.min_serving_nodes < 1:
            raise ConfigError(
                f"min_serving_nodes must be at least 1, got {self.min_serving_nodes}", field="min_serving_nodes"
            )


class SharingController:
    """Carries out a sharing policy between a serving system and a training cluster on one pool."""

    def __init__(
        self,
        sim: Simulation,
        serving: ServingSystem,
        training: TrainingCluster,
        policy: SharingPolicy,
        order: list[str],
        options: MixedOptions,
    ) -> None:
        self.sim, self.serving, self.training, self.policy = sim, serving, training, policy
        self.order, self.opts = order, options
        self.rank = {name: i for i, name in enumerate(order)}
        self.trainable = {t.name for t in training.types}
        serving.track_load_delay()
        self._last_busy = 0.0
        self._last_t = 0.0
        self._last_ttft = serving.latency_counts("ttft")
        self._last_excess = serving.latency_counts("ttft_excess")
        self.resizes = 0
        self.evictions = 0
        self.node_series: list[tuple[float, int]] = [(0.0, len(serving.open_nodes))]

        self.ttft_series: list[tuple[float, float]] = []  # (end of interval, p90 TTFT in it; NaN when none)

    def start(self) -> None:
        # A partition never resizes, but the p90 TTFT per interval is still recorded (for the SLO chart).
        self.sim.schedule(self.opts.control_interval_s, self._tick, _CONTROL_PRIORITY)

    def _state(self) -> SharingState:
        now = self.sim.now
        busy = self.serving.busy_replica_s()
        replicas = self.serving.open_replicas()
        dt = now - self._last_t
        util = (busy - self._last_busy) / (replicas * dt) if replicas and dt > 0 else 0.0
        return SharingState(
            now_s=now,
            serving_nodes=len(self.serving.open_nodes),
            serving_replicas=replicas,
            ttft_p90_s=_p90(self.serving.latency_counts("ttft") - self._last_ttft),
            excess_p90_s=_p90(self.serving.latency_counts("ttft_excess") - self._last_excess),
            utilization=min(1.0, util),
            waiting_requests=self.serving.waiting,
            waiting_jobs=self.training.view.waiting_count,
            free_nodes=sum(1 for n in self.serving.nodes if n.owner is None),
            target_ttft_s=self.opts.target_ttft_s,
            shrink_below=self.opts.shrink_below,
            load_share=self.opts.load_share,
        )

    def _tick(self) -> None:
        state = self._state()
        self._last_busy = self.serving.busy_replica_s()
        self._last_t = self.sim.now
        self._last_ttft = self.serving.latency_counts("ttft")
        self._last_excess = self.serving.latency_counts("ttft_excess")
        self.ttft_series.append((self.sim.now, state.ttft_p90_s))
        d = self.policy.decide(state)
        if d is not None:
            have = state.serving_replicas
            if d.target_serving_replicas > have:
                self._grow(d.target_serving_replicas - have, d.may_evict_training)
            elif d.target_serving_replicas < have:
                self._shrink()
            self.node_series.append((self.sim.now, len(self.serving.open_nodes)))
        self.sim.schedule(self.sim.now + self.opts.control_interval_s, self._tick, _CONTROL_PRIORITY)

    def _grow(self, need: int, may_evict: bool) -> None:
        serving = self.serving
        held = {n.id for n in serving.held_nodes}
        draining = [n for n in serving.held_nodes if n not in serving.open_nodes]
        free = [n for n in serving.nodes if n.owner is None]
        got = 0  # replicas opened
        for node in sorted(draining, key=self._key):
            if got >= need:
                break
            serving.open(node)
            got += serving.replicas_on(node)
        for node in sorted(free, key=self._key):
            if got >= need:
                break
            self.training.withdraw([node])
            serving.open(node)
            got += serving.replicas_on(node)
        if got < need and may_evict:
            training = self.training
            candidates = [n for n in serving.nodes if n.id not in held and training.jobs_on(n)]

            def set_back(node: Node) -> int:
                """Nodes held in all by the jobs that freeing ``node`` evicts."""
                return len({m.id for job in training.jobs_on(node) for m in training.nodes_of(job)})

            # Free first the nodes whose jobs hold the fewest nodes: the least training work is set back.
            for node in sorted(candidates, key=lambda n: (set_back(n), *self._key(n))):
                if got >= need:
                    break
                jobs = training.jobs_on(node)
                if not jobs:
                    continue  # freed by an earlier eviction in this loop and already taken
                freed = training.evict_node(node)
                self.evictions += len(jobs)
                for n in sorted((n for n in freed if serving.can_host(n)), key=self._key):
                    if got >= need:
                        break
                    serving.open(n)
                    got += serving.replicas_on(n)
                self.training.nodes_freed([n for n in freed if n.owner is None])
        if got:
            self.resizes += 1

    def _shrink(self) -> None:
        """Drain one node: the last in the policy's order among those training can use."""
        open_nodes = self.serving.open_nodes
        # Giving back a node training cannot use would idle it and cost serving capacity for nothing.
        lendable = [n for n in open_nodes if n.instance.name in self.trainable]
        if len(open_nodes) <= self.opts.min_serving_nodes or not lendable:
            return
        node = max(lendable, key=self._key)
        self.serving.drain(node, lambda freed: self.training.nodes_freed([freed]))
        self.resizes += 1

    def _key(self, node: Node) -> tuple[int, int]:
        return (self.rank.get(node.instance.name, len(self.rank)), node.id)


def _p90(counts: NDArray[np.int64]) -> float:
    """p90 of the samples a :class:`LogHistogram`'s bin counts describe (NaN when there are none)."""
    h = LogHistogram()
    h.counts = counts
    h.total = int(counts.sum())
    return h.percentile(90)
