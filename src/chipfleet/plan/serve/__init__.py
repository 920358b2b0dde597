"""The serving planner: the cheapest mix of instances that serves a trace within its latency SLOs."""

from chipfleet.plan.serve.plan import (
    Bucket,
    Deployment,
    Excluded,
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

__all__ = [
    "Bucket",
    "Deployment",
    "Excluded",
    "HourlyPlan",
    "Mix",
    "MixEntry",
    "ReplayRound",
    "ServeConstraints",
    "ServeObjective",
    "ServePlan",
    "ServeSLO",
    "serve",
]
