"""Old path of the spot interruption model, kept for one release: it lives in :mod:`chipfleet.economics.spot`
(training estimates and the planner share it); ``from chipfleet.plan import SpotModel`` still works."""

from chipfleet._moved import warn_moved
from chipfleet.economics.spot import *  # noqa: F403

warn_moved("chipfleet.plan.spot", "chipfleet.economics.spot")
