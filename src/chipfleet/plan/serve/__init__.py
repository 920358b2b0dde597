"""The serving planner: the cheapest mix of instances that serves a trace within its latency SLOs."""

from chipfleet.plan.serve.buckets import DEFAULT_INPUT_EDGES, DEFAULT_OUTPUT_EDGES, Bucket, Excluded
from chipfleet.plan.serve.capacity import Deployment
from chipfleet.plan.serve.disagg import DisaggMix, LinkUse, PoolEntry
from chipfleet.plan.serve.milp import Mix, MixEntry
from chipfleet.plan.serve.plan import HourlyPlan, ServePlan, serve
from chipfleet.plan.serve.spec import DisaggMode, ServeConstraints, ServeObjective, ServeSLO
from chipfleet.plan.serve.split import DisaggOutcome, PairOption, SplitRound
from chipfleet.plan.serve.verify import ReplayRound

__all__ = [
    "DEFAULT_INPUT_EDGES",
    "DEFAULT_OUTPUT_EDGES",
    "Bucket",
    "Deployment",
    "DisaggMix",
    "DisaggMode",
    "DisaggOutcome",
    "Excluded",
    "HourlyPlan",
    "LinkUse",
    "Mix",
    "MixEntry",
    "PairOption",
    "PoolEntry",
    "ReplayRound",
    "ServeConstraints",
    "ServeObjective",
    "ServePlan",
    "ServeSLO",
    "SplitRound",
    "serve",
]
