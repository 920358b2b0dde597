"""The performance model: pure functions from a model, a split and the hardware to time, memory and FLOPs."""

from chipfleet.perf.hardware import Efficiency, Hardware, hardware_for
from chipfleet.perf.inference import InferenceResult, ServingConfig, estimate_inference
from chipfleet.perf.training import (
    Parallelism,
    Recompute,
    TrainingSetup,
    TrainingStep,
    choose_parallelism,
    training_flops_per_token,
    training_memory,
    training_step,
)

__all__ = [
    "Efficiency",
    "Hardware",
    "InferenceResult",
    "Parallelism",
    "Recompute",
    "ServingConfig",
    "TrainingSetup",
    "TrainingStep",
    "choose_parallelism",
    "estimate_inference",
    "hardware_for",
    "training_flops_per_token",
    "training_memory",
    "training_step",
]
