"""Training and serving in one fleet: a serving workload and a training-job queue share one pool of nodes.

One :class:`~chipfleet.sim.kernel.Simulation` clock drives a :class:`~chipfleet.sim.serving.system.ServingSystem`
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

The sharing policies and the latency rule they share are in :mod:`chipfleet.sim.mixed.sharing`; the
controller that carries them out in :mod:`chipfleet.sim.mixed.controller`.
"""

from __future__ import annotations

from collections.abc import Callable

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.iteration import IterationModel
from chipfleet.sim.fleet import FleetSpec, Node, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.mixed.accounting import fleet_books
from chipfleet.sim.mixed.controller import MixedOptions, SharingController
from chipfleet.sim.mixed.results import MixedResult
from chipfleet.sim.mixed.sharing import SharingPolicy, TypeValue, get_sharing
from chipfleet.sim.serving.replica import ServeOptions
from chipfleet.sim.serving.routers import Router
from chipfleet.sim.serving.system import ServingSystem, replica_shape
from chipfleet.sim.training.cluster import TrainingCluster
from chipfleet.sim.training.policies import Policy, get_policy
from chipfleet.sim.training.throughput import (
    ThroughputMatrix,
    trainable_matrix,
)
from chipfleet.traces.schema import JobTrace, RequestTrace
from chipfleet.workloads import ModelArch


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
    pool = Pool.build(catalog, fleet, pricing, pue=pue)
    if matrix is None:
        matrix = trainable_matrix(catalog, pool.instance_types())
    trainable = [name for name in pool.instance_types() if name in matrix.types]
    if not trainable:
        raise ConfigError(
            f"no type in {fleet.describe()} has a training speed; training needs at least one", field="fleet"
        )
    policy = get_sharing(sharing) if isinstance(sharing, str) else sharing
    values, servable = type_values(model, pool, matrix, sopts, requests)
    if not servable:
        raise ConfigError(
            f"{model.name} fits on none of the fleet's types ({fleet.describe()}); add a type with more memory",
            field="fleet",
        )
    order = [n for n in policy.type_order(values) if n in servable]
    candidates = [n for n in pool.nodes if n.instance.name in servable]
    first = _initial_nodes(candidates, order, opts)
    sim = Simulation(seed=seed)
    serving = ServingSystem(sim, model, requests, pool, candidates, router=router, options=sopts, open_nodes=first)
    train_policy = get_policy(training_policy) if isinstance(training_policy, str) else training_policy
    training = TrainingCluster(sim, jobs, pool, train_policy, matrix, instance_types=trainable)
    if require_placeable:
        training.require_placeable()
    controller = SharingController(sim, serving, training, policy, order, opts)
    serving.start()
    training.start()
    controller.start()
    n = len(requests)
    span = until_s if until_s is not None else (float(requests.arrival_s[-1]) if n else 0.0)
    if not span > 0:
        raise ConfigError(
            "nothing to simulate: give until_s > 0 or a request trace with arrivals after 0", field="until_s"
        )
    sim.run(span, progress)
    # Both results read the pool's ledger (node tenures and busy time); neither writes what the other reads.
    train = training.result(until=span, seed=seed)
    serve = serving.result(span, fleet=fleet.describe(), seed=seed)
    books = fleet_books(pool, train, span)
    return MixedResult(
        sharing=policy.name,
        fleet=fleet.describe(),
        span_s=span,
        serve=serve,
        train=train,
        shares=books.shares,
        serving_cost_usd=books.serving_cost_usd,
        training_cost_usd=books.training_cost_usd,
        training_idle_chip_cost_usd=books.training_idle_chip_cost_usd,
        idle_cost_usd=books.idle_cost_usd,
        fleet_cost_usd=books.fleet.cost_usd,
        fleet_energy_kwh=books.fleet.energy_kwh,
        fleet_co2_kg=books.fleet.co2_kg,
        resizes=controller.resizes,
        training_evictions=controller.evictions,
        target_ttft_s=opts.target_ttft_s,
        serving_nodes_over_time=tuple(controller.node_series),
        ttft_p90_over_time=tuple(controller.ttft_series),
    )


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
                "the model; lower the count or add them to the fleet",
                field="serve_fleet",
            )
        chosen += of_type[:count]
    return chosen
