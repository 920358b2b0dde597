"""Planners: the best training placement, and the instance mix that serves a workload, as plan objects."""

from chipfleet.exceptions import InfeasibleServeError
from chipfleet.plan.serve import (
    Bucket,
    Deployment,
    HourlyPlan,
    Mix,
    MixEntry,
    ReplayRound,
    ServeConstraints,
    ServeObjective,
    ServePlan,
    ServeSLO,
    serve,
)
from chipfleet.plan.spot import SpotModel
from chipfleet.plan.train import (
    InfeasiblePlanError,
    Objective,
    PricingChoice,
    RatioFactor,
    TrainConstraints,
    TrainOption,
    TrainPlan,
    pareto_front,
    ratio_factors,
    train,
)

__all__ = [
    "Bucket",
    "Deployment",
    "HourlyPlan",
    "InfeasiblePlanError",
    "InfeasibleServeError",
    "Mix",
    "MixEntry",
    "Objective",
    "PricingChoice",
    "RatioFactor",
    "ReplayRound",
    "ServeConstraints",
    "ServeObjective",
    "ServePlan",
    "ServeSLO",
    "SpotModel",
    "TrainConstraints",
    "TrainOption",
    "TrainPlan",
    "pareto_front",
    "ratio_factors",
    "serve",
    "train",
]
