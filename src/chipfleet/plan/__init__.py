"""Planners: the best training placement (and, later, serving mixes), as plan objects the CLI renders."""

from chipfleet.plan.spot import SpotModel
from chipfleet.plan.trainer import (
    InfeasiblePlanError,
    Objective,
    PricingChoice,
    TrainConstraints,
    TrainOption,
    TrainPlan,
    pareto_front,
    train,
)

__all__ = [
    "InfeasiblePlanError",
    "Objective",
    "PricingChoice",
    "SpotModel",
    "TrainConstraints",
    "TrainOption",
    "TrainPlan",
    "pareto_front",
    "train",
]
