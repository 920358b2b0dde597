"""Old path of :mod:`chipfleet.sim.training`, kept for one release; import from ``chipfleet.sim.training`` instead."""

from chipfleet._moved import warn_moved
from chipfleet.sim.training import *  # noqa: F403
from chipfleet.sim.training import __all__ as __all__

warn_moved("chipfleet.sim.cluster", "chipfleet.sim.training")
