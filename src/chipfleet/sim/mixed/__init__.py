"""One fleet shared by serving and training: sharing policies move nodes between the two."""

from chipfleet.sim.mixed.sharing import SharingPolicy, get_sharing, list_sharing, register_sharing
from chipfleet.sim.mixed.simulate import MixedOptions, MixedResult, simulate_mixed

__all__ = [
    "MixedOptions",
    "MixedResult",
    "SharingPolicy",
    "get_sharing",
    "list_sharing",
    "register_sharing",
    "simulate_mixed",
]
