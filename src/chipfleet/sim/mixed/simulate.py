"""Training and serving in one fleet: a serving workload and a training-job queue share one pool of nodes.

One :class:`~chipfleet.sim.kernel.Simulation` clock drives a :class:`~chipfleet.sim.serving.simulate.ServingSystem`
and a :class:`~chipfleet.sim.training.cluster.TrainingCluster` over the same :class:`~chipfleet.sim.fleet.Pool`; a
sharing policy (a registry) decides, every control interval, how many nodes serving should hold and on
which instance types; the :class:`SharingController` carries that out:

* growing serving takes free nodes first, re-opens nodes it is still draining, and, when the policy allows,
  evicts training jobs (they requeue and pay the training policy's restart penalty): serving takes whole
  nodes, and training shares a node between jobs that fit on one (:mod:`chipfleet.sim.training.cluster`), so
  freeing a node evicts every job holding chips on it; the nodes whose jobs hold the fewest nodes in all
  (the least training set back) go first;
* shrinking serving stops routing to a node and hands it to training once its requests have finished.

The fleet's books (:class:`MixedResult`) split every node-second between serving (nodes it holds, open or
draining), training (nodes with at least one chip allocated to a job) and nobody; the money follows the
same split, except that training is charged for the chips its jobs hold (allocated chip-hours × price per
chip) and the free chips of the nodes it holds are counted apart (``training_idle_chip_cost_usd``).

Policies:

``partition``
    fixed split: serving keeps the nodes it starts with (``serve_fleet``), training has the rest.
``serving-first``
    serving scales to hold its latency target and preempts training whenever it needs more; training fills
    whatever serving leaves, preemptibly. Serving grows onto the type that serves the most tokens per dollar.
``cost-aware``
    the same rule, but training is evicted only when requests back up (more waiting than open replicas: the
    latency SLO is at risk, not merely tight), and each type goes to the side with the comparative
    advantage: serving takes the types whose serving throughput per unit of training speed is highest, and
    gives back the others first.

The rule (:func:`latency_target`) works on the p90 time to first token of the requests that got their
first token in the last interval, ``T90``, against ``target_ttft_s``. Above it, and with the p90 of the
delay load added (each request's TTFT minus its TTFT alone on its replica: queueing and batching
interference) at least ``load_share`` of the target, serving wants ``R + ⌈R/4⌉`` replicas (``R`` open
now): more replicas cut that delay, not a type's own prefill time, so a TTFT floor set by slow hardware
does not make serving swallow the fleet. Backlogged, it wants ``R + ⌈R/2⌉``; below
``shrink_below × target_ttft_s`` (or with no traffic) it gives back one node; in between it holds (the band
is the hysteresis). Serving grows by whole nodes until it has the replicas it wants and shrinks one node per
interval, never below ``min_serving_nodes``. Latency, not the busy share, drives it: decode streams the
weights every iteration, so a replica with any request at all is memory-busy nearly all the time
(``SharingState.utilization`` reports that share anyway).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec, Node, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.metrics import LogHistogram
from chipfleet.sim.mixed.sharing import SharingPolicy, SharingState, TypeValue, get_sharing
from chipfleet.sim.mixed.sharing import list_sharing as list_sharing  # the CLI still imports it from here
from chipfleet.sim.serving.routers import Router
from chipfleet.sim.serving.simulate import ServeOptions, ServeResult, ServingSystem, replica_shape
from chipfleet.sim.training.cluster import TrainingCluster
from chipfleet.sim.training.policies import Policy, get_policy
from chipfleet.sim.training.results import ClusterResult
from chipfleet.sim.training.throughput import (
    ReferenceWorkload,
    ThroughputMatrix,
    throughput_matrix,
    tokens_per_s_per_chip,
)
from chipfleet.traces.schema import JobTrace, RequestTrace
from chipfleet.workloads import ModelArch

_CONTROL_PRIORITY = 2  # after arrivals (1) and training decisions (1) at the same instant
MIXED_COST_NOTE = (
    "fleet_cost_usd is every node for the whole span, split four ways: serving_cost_usd (nodes serving held), "
    "training_cost_usd (chips training jobs held: allocated chip-hours × the instance's price ÷ its chips), "
    "training_idle_chip_cost_usd (free chips of nodes training held) and idle_cost_usd (nodes nobody held)."
)


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
            raise ConfigError(f"control_interval_s must be > 0, got {self.control_interval_s}")
        if not self.target_ttft_s > 0:
            raise ConfigError(f"target_ttft_s must be > 0, got {self.target_ttft_s}")
        if not 0 <= self.shrink_below < 1:
            raise ConfigError(f"shrink_below must be in [0, 1), got {self.shrink_below}")
        if not 0 <= self.load_share <= 1:
            raise ConfigError(f"load_share must be in [0, 1], got {self.load_share}")
        if self.min_serving_nodes < 1:
            raise ConfigError(f"min_serving_nodes must be at least 1, got {self.min_serving_nodes}")


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


@dataclass(frozen=True)
class ShareReport:
    """Node-hours of one instance type by holder over the run, and training's chip-hours on its nodes."""

    instance: str
    nodes: int
    serving_node_h: float
    training_node_h: float  # nodes with at least one chip allocated to a training job
    idle_node_h: float  # nodes nobody held
    training_allocated_chip_h: float  # chips training jobs held (≤ training_node_h × chips per node)
    training_busy_chip_h: float  # of those, computing

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MixedResult:
    """Both sides' metrics, the split of the fleet between them, and the fleet's cost and energy."""

    sharing: str
    fleet: str
    span_s: float
    serve: ServeResult
    train: ClusterResult
    shares: tuple[ShareReport, ...]
    serving_cost_usd: float  # nodes serving held
    training_cost_usd: float  # chips training jobs held (allocated chip-hours × price per chip-hour)
    training_idle_chip_cost_usd: float  # free chips of the nodes training held
    idle_cost_usd: float  # nodes nobody held
    fleet_cost_usd: float  # every node, whole span: the four above
    fleet_energy_kwh: float
    resizes: int
    training_evictions: int  # jobs evicted to free nodes for serving
    target_ttft_s: float  # the p90 TTFT the controller holds serving to
    serving_nodes_over_time: tuple[tuple[float, int], ...] = field(repr=False)
    ttft_p90_over_time: tuple[tuple[float, float], ...] = field(repr=False, default=())  # per control interval

    def as_dict(self) -> dict[str, Any]:
        return {
            "sharing": self.sharing,
            "fleet": self.fleet,
            "span_s": self.span_s,
            "serve": self.serve.as_dict(),
            "train": self.train.as_dict(),
            "shares": [s.as_dict() for s in self.shares],
            "serving_cost_usd": self.serving_cost_usd,
            "training_cost_usd": self.training_cost_usd,
            "training_idle_chip_cost_usd": self.training_idle_chip_cost_usd,
            "idle_cost_usd": self.idle_cost_usd,
            "fleet_cost_usd": self.fleet_cost_usd,
            "cost_note": MIXED_COST_NOTE,
            "fleet_energy_kwh": self.fleet_energy_kwh,
            "resizes": self.resizes,
            "training_evictions": self.training_evictions,
            "target_ttft_s": self.target_ttft_s,
            "serving_nodes_over_time": [list(p) for p in self.serving_nodes_over_time],
            "ttft_p90_over_time": [[t, v if math.isfinite(v) else None] for t, v in self.ttft_p90_over_time],
        }


def type_values(
    model: ModelArch, pool: Pool, matrix: ThroughputMatrix, opts: ServeOptions, trace: RequestTrace
) -> tuple[list[TypeValue], set[str]]:
    """Each type's serving and training worth per node, and the types the model can be served on."""
    ctx = float(trace.input_tokens.mean() + trace.output_tokens.mean() / 2) if len(trace) else 1024.0
    batch = min(32, opts.max_seqs)
    values, servable = [], set()
    for name in pool.instance_types():
        node = next(n for n in pool.nodes if n.instance.name == name)
        try:
            tp, _ = replica_shape(model, node.hw, opts)
        except DoesNotFitError:
            tokens = 0.0
        else:
            servable.add(name)
            t, _ = IterationModel(model, node.hw, tp, opts.precision).time(batch, batch * ctx, 0, 0.0, 0.0, 0)
            tokens = (node.chips // tp) * batch / t
        speed = matrix.relative(name) * node.chips if name in matrix.types else 0.0
        values.append(TypeValue(name, tokens, speed, node.price_usd_per_h))
    return values, servable


def simulate_mixed(
    model: ModelArch,
    requests: RequestTrace,
    jobs: JobTrace,
    fleet: FleetSpec,
    catalog: Catalog,
    matrix: ThroughputMatrix | None = None,
    *,
    sharing: str | SharingPolicy = "serving-first",
    training_policy: str | Policy = "fifo",
    router: str | Router = "least-outstanding",
    serve_options: ServeOptions | None = None,
    options: MixedOptions | None = None,
    until_s: float | None = None,
    seed: int = 0,
    pricing: Pricing = Pricing.ON_DEMAND,
    pue: float | None = None,
    progress: Callable[[float], None] | None = None,
    require_placeable: bool = False,
) -> MixedResult:
    """Run ``requests`` and ``jobs`` on one pool under a sharing policy until ``until_s`` (default: the last
    request arrival). ``progress`` is called with the simulated time every 50,000 events.

    Without ``matrix``, training speeds come from :func:`~chipfleet.sim.training.throughput.throughput_matrix` over the
    types that can train its reference workload; the others (e.g. Inferentia) only serve. Jobs larger than any
    training type of the fleet are refused and counted in ``train.unplaceable``; with ``require_placeable``
    (the CLI's choice) a job trace none of whose jobs fits is a :class:`ConfigError` before anything runs.
    """
    opts = options or MixedOptions()
    sopts = serve_options or ServeOptions()
    pool = Pool.build(catalog, fleet, pricing)
    if matrix is None:
        matrix = trainable_matrix(catalog, pool.instance_types())
    trainable = [name for name in pool.instance_types() if name in matrix.types]
    if not trainable:
        raise ConfigError(f"no type in {fleet.describe()} has a training speed; training needs at least one")
    policy = get_sharing(sharing) if isinstance(sharing, str) else sharing
    values, servable = type_values(model, pool, matrix, sopts, requests)
    if not servable:
        raise ConfigError(
            f"{model.name} fits on none of the fleet's types ({fleet.describe()}); add a type with more memory"
        )
    order = [n for n in policy.type_order(values) if n in servable]
    candidates = [n for n in pool.nodes if n.instance.name in servable]
    first = _initial_nodes(candidates, order, opts)
    sim = Simulation(seed=seed)
    serving = ServingSystem(sim, model, requests, pool, candidates, router=router, options=sopts, open_nodes=first)
    train_policy = get_policy(training_policy) if isinstance(training_policy, str) else training_policy
    training = TrainingCluster(sim, jobs, pool, train_policy, matrix, pue=pue, instance_types=trainable)
    if require_placeable:
        training.require_placeable()
    controller = SharingController(sim, serving, training, policy, order, opts)
    serving.start()
    training.start()
    controller.start()
    n = len(requests)
    span = until_s if until_s is not None else (float(requests.arrival_s[-1]) if n else 0.0)
    if not span > 0:
        raise ConfigError("nothing to simulate: give until_s > 0 or a request trace with arrivals after 0")
    sim.run(span, progress)
    train = training.result(until=span, seed=seed)
    pues = {name: training_pue(catalog, pool, name, pue) for name in pool.instance_types()}
    serve = serving.result(span, fleet=fleet.describe(), seed=seed, pue=pues[order[0]])
    shares = []
    serving_cost = training_cost = training_idle = 0.0
    usage_of = {u.instance: u for u in train.types}
    for name in pool.instance_types():
        nodes = [nd for nd in pool.nodes if nd.instance.name == name]
        serve_s = sum(serving.held_node_s(nd, span) for nd in nodes) if name in servable else 0.0
        u = usage_of.get(name)
        train_s = u.held_instance_s if u is not None else 0.0
        alloc_s = u.allocated_chip_s if u is not None else 0.0
        price_per_chip_s = nodes[0].price_usd_per_h / nodes[0].chips / 3600
        shares.append(
            ShareReport(name, len(nodes), serve_s / 3600, train_s / 3600,
                        max(0.0, len(nodes) * span - serve_s - train_s) / 3600,
                        alloc_s / 3600, (u.busy_chip_s if u is not None else 0.0) / 3600)
        )  # fmt: skip
        serving_cost += serve_s * nodes[0].chips * price_per_chip_s
        training_cost += alloc_s * price_per_chip_s
        training_idle += max(0.0, train_s * nodes[0].chips - alloc_s) * price_per_chip_s
    fleet_cost = pool.cost_usd(span)
    energy = sum(nd.power.energy_j(span, nd.busy_chip_s) * pues[nd.instance.name] for nd in pool.nodes) / 3.6e6
    return MixedResult(
        sharing=policy.name,
        fleet=fleet.describe(),
        span_s=span,
        serve=serve,
        train=train,
        shares=tuple(shares),
        serving_cost_usd=serving_cost,
        training_cost_usd=training_cost,
        training_idle_chip_cost_usd=training_idle,
        idle_cost_usd=max(0.0, fleet_cost - serving_cost - training_cost - training_idle),
        fleet_cost_usd=fleet_cost,
        fleet_energy_kwh=energy,
        resizes=controller.resizes,
        training_evictions=controller.evictions,
        target_ttft_s=opts.target_ttft_s,
        serving_nodes_over_time=tuple(controller.node_series),
        ttft_p90_over_time=tuple(controller.ttft_series),
    )


def trainable_matrix(catalog: Catalog, types: list[str]) -> ThroughputMatrix:
    """The throughput matrix over the types that can train the reference workload at all."""
    ok = []
    for name in types:
        try:
            tokens_per_s_per_chip(catalog, name, ReferenceWorkload())
        except ConfigError:
            continue
        ok.append(name)
    if not ok:
        raise ConfigError(f"none of {', '.join(types)} can train the reference workload; add a training type")
    return throughput_matrix(catalog, ok)


def training_pue(catalog: Catalog, pool: Pool, name: str, override: float | None) -> float:
    """``override``, else the PUE of the region the type's price comes from, else 1.0."""
    if override is not None:
        return override
    node = next(n for n in pool.nodes if n.instance.name == name)
    for price in node.instance.prices:
        if price.usd_per_h == node.price_usd_per_h and price.region in catalog.regions:
            return catalog.region(price.region).pue_ratio
    return 1.0


def _initial_nodes(candidates: list[Node], order: list[str], opts: MixedOptions) -> list[Node]:
    if opts.serve_fleet is None:
        ranked = sorted(candidates, key=lambda n: (order.index(n.instance.name), n.id))
        return ranked[: opts.min_serving_nodes]
    chosen: list[Node] = []
    for name, count in opts.serve_fleet.entries:
        of_type = [n for n in candidates if n.instance.name == name]
        if len(of_type) < count:
            raise ConfigError(
                f"the serving share asks for {count} × {name}, but the fleet has {len(of_type)} that can serve "
                "the model; lower the count or add them to --fleet"
            )
        chosen += of_type[:count]
    return chosen
