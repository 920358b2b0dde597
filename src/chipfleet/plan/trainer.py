"""Old path of :mod:`chipfleet.plan.train`, kept for one release; import from ``chipfleet.plan.train`` instead."""

from chipfleet._moved import warn_moved
from chipfleet.plan.train import *  # noqa: F403

warn_moved("chipfleet.plan.trainer", "chipfleet.plan.train")
