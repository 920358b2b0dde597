"""Request-level serving simulation: continuous batching per replica, routers, KV cache, prefix reuse.

Each replica runs vLLM-style iterations: the decode tokens of every running request plus prefill work
(whole prompts, or chunks of them with chunked prefill) up to a token budget, with KV-cache capacity
checked on admission and preemption (recompute) when decode growth overflows it. An iteration's time comes
from the performance model (:func:`chipfleet.perf.inference.phase_time`, the same roofline as
``estimate serve``), so one request alone reproduces the model's TTFT and TPOT.

Steady decoding is not simulated token by token: when a replica has nothing to prefill it advances its whole
batch through ``k`` decode iterations in one event, ``k`` bounded by the next completion and the KV headroom;
an arrival at that replica cuts the block at the iteration in flight. Metrics stream into fixed-size
histograms and windowed series, so memory does not grow with the number of finished requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chipfleet.catalog import Catalog, Pricing
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.kernel import Simulation
from chipfleet.sim.serving.replica import ServeOptions
from chipfleet.sim.serving.results import ServeResult
from chipfleet.sim.serving.routers import Router
from chipfleet.sim.serving.system import ServingSystem
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import ModelArch


def simulate_serving(
    model: ModelArch,
    trace: RequestTrace,
    fleet: FleetSpec,
    catalog: Catalog,
    *,
    router: str | Router = "least-outstanding",
    options: ServeOptions | None = None,
    seed: int = 0,
    pricing: Pricing = Pricing.ON_DEMAND,
    region: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    options_by_type: Mapping[str, ServeOptions] | None = None,
    concurrency: int | None = None,
    think_time_s: float = 0.0,
) -> ServeResult:
    """Replay ``trace`` against a fleet of replicas of ``model`` (see the module docstring).

    ``options_by_type`` gives some instance types their own replica options (chips per replica, precision,
    batch limits); the others, and the fleet's SLO attainment, use ``options``.

    ``concurrency`` makes the load a closed loop: that many clients, all starting at once, send the trace's
    requests in order (its arrival times unused), each its next request ``think_time_s`` after its last one
    completes; requests beyond a replica's ``max_seqs`` queue. ``None``: the trace's own arrival times.

    ``options.engine`` (``simulate serve --engine``) adds the engine's per-iteration overheads to each iteration and
    its first-token overhead ``c`` (``EngineProfile.first_token_overhead_s``) before each request joins its
    replica's batch: a request's TTFT and E2E rise by ``c``, its TPOT and the chips' busy time do not (as the
    closed-loop model of :mod:`chipfleet.validate.serving.closed_loop` adds ``c`` to each TTFT).
    """
    pool = Pool.build(catalog, fleet, pricing, region)
    sim = Simulation(seed=seed)
    system = ServingSystem(
        sim, model, trace, pool, pool.nodes, router=router, options=options, options_by_type=options_by_type,
        concurrency=concurrency, think_time_s=think_time_s,
    )  # fmt: skip
    system.progress = progress
    system.start()
    sim.run()
    n = len(trace)
    if progress is not None:
        progress(n, n)
    span = sim.now if concurrency is not None else max(sim.now, float(trace.arrival_s[-1]) if n else 0.0)
    return system.result(span, fleet=fleet.describe(), seed=seed)
