"""Old path of :mod:`chipfleet.plan.serve`, kept for one release; import from ``chipfleet.plan.serve`` instead."""

from chipfleet._moved import warn_moved
from chipfleet.plan.serve import *  # noqa: F403
from chipfleet.plan.serve import __all__ as __all__

warn_moved("chipfleet.plan.serving", "chipfleet.plan.serve")
