"""One fleet shared by serving and training: sharing policies move nodes between the two."""

from chipfleet.sim.mixed.controller import MixedOptions, SharingController
from chipfleet.sim.mixed.results import MixedResult, ShareReport
from chipfleet.sim.mixed.sharing import (
    SHARING,
    SharingDecision,
    SharingPolicy,
    SharingState,
    TypeValue,
    get_sharing,
    latency_target,
    list_sharing,
    register_sharing,
)
from chipfleet.sim.mixed.simulate import simulate_mixed

__all__ = [
    "SHARING",
    "MixedOptions",
    "MixedResult",
    "ShareReport",
    "SharingController",
    "SharingDecision",
    "SharingPolicy",
    "SharingState",
    "TypeValue",
    "get_sharing",
    "latency_target",
    "list_sharing",
    "register_sharing",
    "simulate_mixed",
]
