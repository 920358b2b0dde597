"""Money, energy and carbon of a performance estimate: price × time, a power model, PUE and grid intensity."""

from chipfleet.economics.costing import (
    Footprint,
    LoadPowerCurve,
    PowerModel,
    footprint,
    instance_power_w,
    pick_price,
)
from chipfleet.economics.estimate import (
    ServingEstimate,
    TrainingEstimate,
    estimate_serving,
    estimate_training,
)
from chipfleet.economics.spot import SpotModel

__all__ = [
    "Footprint",
    "LoadPowerCurve",
    "PowerModel",
    "ServingEstimate",
    "SpotModel",
    "TrainingEstimate",
    "estimate_serving",
    "estimate_training",
    "footprint",
    "instance_power_w",
    "pick_price",
]
