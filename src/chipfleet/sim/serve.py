"""Old path of :mod:`chipfleet.sim.serving`, kept for one release; import from ``chipfleet.sim.serving`` instead."""

from chipfleet._moved import warn_moved
from chipfleet.sim.serving import *  # noqa: F403
from chipfleet.sim.serving import __all__ as __all__

warn_moved("chipfleet.sim.serve", "chipfleet.sim.serving")
