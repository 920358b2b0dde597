"""Request-level simulation of serving fleets: replicas, batching, routers, latency and cost."""

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
    "ROUTERS",
    "FleetView",
    "Router",
    "ServeOptions",
    "ServeResult",
    "ServingSystem",
    "TypeReport",
    "list_routers",
    "make_router",
    "register_router",
    "replica_shape",
    "simulate_serving",
]
