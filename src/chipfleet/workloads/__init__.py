"""What to run: model architectures (zoo and Hugging Face config.json import) and serving benchmarks."""

from chipfleet.workloads.benchmarks import ServingBenchmark, get_benchmark, list_benchmarks
from chipfleet.workloads.hf_import import HF_IMPORTERS, arch_from_hf_config, load_hf_config
from chipfleet.workloads.models import ModelArch
from chipfleet.workloads.zoo import (
    checkpoint_precision,
    get_model,
    implied_weight_precision,
    list_models,
    resolve_model,
)

__all__ = [
    "HF_IMPORTERS",
    "ModelArch",
    "ServingBenchmark",
    "arch_from_hf_config",
    "checkpoint_precision",
    "get_benchmark",
    "get_model",
    "implied_weight_precision",
    "list_benchmarks",
    "list_models",
    "load_hf_config",
    "resolve_model",
]
