"""Run a job trace on a training fleet: :func:`simulate_training` from a fleet spec, as serving runs from one."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ConfigError
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.training.cluster import TrainingCluster
from chipfleet.sim.training.policies import Policy, get_policy
from chipfleet.sim.training.results import ClusterResult
from chipfleet.sim.training.throughput import ReferenceWorkload, ThroughputMatrix, throughput_matrix
from chipfleet.traces.schema import JobTrace


@dataclass(frozen=True)
class TrainingOptions:
    """How a training simulation runs and what it converts the trace with.

    ``until_s``: stop there (default: when every job is done); ``window_s``: width of the utilization-over-
    time windows (default: span / 100); ``pue``: overrides every region's PUE; ``require_placeable``: a trace
    none of whose jobs fits the fleet is a :class:`ConfigError` before anything runs (else such jobs are
    refused and counted in the result's ``unplaceable``); ``reference`` and ``workload``: the instance type
    the trace's durations were measured on (default: the slowest accelerator) and the training job whose
    modelled speed ranks the types (:mod:`chipfleet.sim.training.throughput`).
    """

    until_s: float | None = None
    window_s: float | None = None
    pue: float | None = None
    require_placeable: bool = False
    reference: str | None = None
    workload: ReferenceWorkload = field(default_factory=ReferenceWorkload)

    def __post_init__(self) -> None:
        if self.until_s is not None and not self.until_s > 0:
            raise ConfigError(f"until_s must be > 0, got {self.until_s}", field="until_s")
        if self.window_s is not None and not self.window_s > 0:
            raise ConfigError(f"window_s must be > 0, got {self.window_s}", field="window_s")
        if self.pue is not None and not self.pue >= 1.0:
            raise ConfigError(f"pue is facility ÷ IT energy and cannot be below 1, got {self.pue}", field="pue")


def simulate_training(
    trace: JobTrace,
    fleet: FleetSpec,
    catalog: Catalog,
    *,
    policy: str | Policy = "fifo",
    options: TrainingOptions | None = None,
    seed: int = 0,
    pricing: Pricing = Pricing.ON_DEMAND,
    region: str | None = None,
    matrix: ThroughputMatrix | None = None,
    progress: Callable[[float], None] | None = None,
) -> ClusterResult:
    """Replay ``trace`` on ``fleet`` under ``policy`` (a registered name or a :class:`Policy`).

    The pool is built here (prices in ``region``, default each type's cheapest for ``pricing``), and the
    throughput matrix too unless ``matrix`` is given (a caller that runs the same fleet many times computes
    it once with :func:`~chipfleet.sim.training.throughput.throughput_matrix` and passes it; it then wins
    over ``options.reference`` and ``options.workload``). ``progress`` is called with the simulated time.
    """
    opts = options or TrainingOptions()
    pool = Pool.build(catalog, fleet, pricing, region, pue=opts.pue)
    if matrix is None:
        matrix = throughput_matrix(catalog, pool.instance_types(), workload=opts.workload, reference=opts.reference)
    return run_cluster(trace, pool, policy, matrix, options=opts, seed=seed, progress=progress)


def run_cluster(
    trace: JobTrace,
    pool: Pool,
    policy: str | Policy,
    matrix: ThroughputMatrix,
    *,
    options: TrainingOptions | None = None,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> ClusterResult:
    """Replay ``trace`` on a pool the caller built (and may inspect afterwards: its ledger holds the node
    time). The pool's PUE is the one it was built with (``options.pue`` is :meth:`Pool.build`'s business)."""
    opts = options or TrainingOptions()
    if not pool.ledger.empty:
        raise ConfigError(
            "the pool already carries node time from an earlier run; build a fresh Pool for each simulation"
        )
    pol = get_policy(policy) if isinstance(policy, str) else policy
    sim = Simulation(seed=seed)
    cluster = TrainingCluster(sim, trace, pool, pol, matrix, window_s=opts.window_s)
    if opts.require_placeable:
        cluster.require_placeable()
    cluster.start()
    sim.run(opts.until_s if opts.until_s is not None else math.inf, progress)
    return cluster.result(until=opts.until_s, seed=seed)
