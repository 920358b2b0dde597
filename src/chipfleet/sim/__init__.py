"""Discrete-event simulation of a fleet: request-level serving, job-level training clusters, and both sharing one
fleet. The public surface is importable from here, as SimPy's is from ``simpy``."""

from chipfleet.sim.fleet import FleetSpec, Node, Pool, TypeChips
from chipfleet.sim.kernel import Simulation, Timer
from chipfleet.sim.mixed import MixedOptions, MixedResult, SharingPolicy, list_sharing, simulate_mixed
from chipfleet.sim.serving import (
    Router,
    ServeOptions,
    ServeResult,
    ServingSystem,
    list_routers,
    simulate_serving,
)
from chipfleet.sim.training import ClusterResult, Policy, list_policies, simulate_training

__all__ = [
    "ClusterResult",
    "FleetSpec",
    "MixedOptions",
    "MixedResult",
    "Node",
    "Policy",
    "Pool",
    "Router",
    "ServeOptions",
    "ServeResult",
    "ServingSystem",
    "SharingPolicy",
    "Simulation",
    "Timer",
    "TypeChips",
    "list_policies",
    "list_routers",
    "list_sharing",
    "simulate_mixed",
    "simulate_serving",
    "simulate_training",
]
