"""Request-level simulation of serving fleets: replicas, batching, routers, latency and cost."""

from chipfleet.sim.serving.disagg import simulate_disaggregated
from chipfleet.sim.serving.disagg_results import DisaggResult, LinkReport, PoolReport
from chipfleet.sim.serving.disagg_routers import (
    DISAGG_ROUTERS,
    DisaggRouter,
    PoolView,
    make_disagg_router,
    register_disagg_router,
)
from chipfleet.sim.serving.pools import DisaggOptions, PoolSpec
from chipfleet.sim.serving.replica import ServeOptions
from chipfleet.sim.serving.results import ServeResult, TypeReport
from chipfleet.sim.serving.routers import (
    ROUTERS,
    FleetView,
    Router,
    list_routers,
    make_router,
    register_router,
)
from chipfleet.sim.serving.simulate import simulate_serving
from chipfleet.sim.serving.system import ServingSystem, replica_shape

__all__ = [
    "DISAGG_ROUTERS",
    "ROUTERS",
    "DisaggOptions",
    "DisaggResult",
    "DisaggRouter",
    "FleetView",
    "LinkReport",
    "PoolReport",
    "PoolSpec",
    "PoolView",
    "Router",
    "ServeOptions",
    "ServeResult",
    "ServingSystem",
    "TypeReport",
    "list_routers",
    "make_disagg_router",
    "make_router",
    "register_disagg_router",
    "register_router",
    "replica_shape",
    "simulate_disaggregated",
    "simulate_serving",
]
