"""Job-level simulation of training clusters: scheduling policies, chip allocation, JCT, cost."""

from chipfleet.sim.training.cluster import TrainingCluster
from chipfleet.sim.training.policies import (
    POLICIES,
    ClusterView,
    Decision,
    Policy,
    Start,
    get_policy,
    list_policies,
    register_policy,
)
from chipfleet.sim.training.results import ClusterResult, Distribution, TypeUsage, Unplaceable
from chipfleet.sim.training.simulate import TrainingOptions, run_cluster, simulate_training
from chipfleet.sim.training.throughput import (
    ReferenceWorkload,
    ThroughputMatrix,
    throughput_matrix,
    tokens_per_s_per_chip,
    trainable_matrix,
)

__all__ = [
    "POLICIES",
    "ClusterResult",
    "ClusterView",
    "Decision",
    "Distribution",
    "Policy",
    "ReferenceWorkload",
    "Start",
    "ThroughputMatrix",
    "TrainingCluster",
    "TrainingOptions",
    "TypeUsage",
    "Unplaceable",
    "get_policy",
    "list_policies",
    "register_policy",
    "run_cluster",
    "simulate_training",
    "throughput_matrix",
    "tokens_per_s_per_chip",
    "trainable_matrix",
]
