"""What to run: model architectures (zoo and Hugging Face config.json import)."""

from chipfleet.workloads.models import ModelArch
from chipfleet.workloads.zoo import get_model, list_models, load_hf_config, resolve_model

__all__ = ["ModelArch", "get_model", "list_models", "load_hf_config", "resolve_model"]
