"""Old path of :mod:`chipfleet.validate.local.model`, kept for one release; import from there instead."""

from chipfleet._moved import warn_moved
from chipfleet.validate.local.model import *  # noqa: F403

warn_moved("chipfleet.validate.local_model", "chipfleet.validate.local.model")
