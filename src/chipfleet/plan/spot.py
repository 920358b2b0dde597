"""The spot interruption model, re-exported: it lives in :mod:`chipfleet.economics.spot` so that training
estimates and the planner share one model."""

from chipfleet.economics.spot import (
    CHECKPOINT_BYTES_PER_PARAM,
    HOURS_PER_MONTH,
    MAX_INTERRUPTIONS_PER_MONTH,
    S_PER_MONTH,
    SpotModel,
)

__all__ = ["CHECKPOINT_BYTES_PER_PARAM", "HOURS_PER_MONTH", "MAX_INTERRUPTIONS_PER_MONTH", "S_PER_MONTH", "SpotModel"]
