"""The model zoo (shipped ``data/models.yaml``): lookup by name, alias or repo id, and ``resolve_model``.

``get_model`` looks a zoo model up by name (case-insensitive; aliases and HF repo ids such as
``meta-llama/Meta-Llama-3-70B``, quantized ones such as ``nvidia/DeepSeek-R1-NVFP4``, or spellings such as
``llama3-70b`` work too); ``implied_weight_precision`` says the precision a repo id implies;
``resolve_model`` returns a zoo model or an imported ``config.json`` (:mod:`chipfleet.workloads.hf_import`),
whichever a string asks for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from chipfleet.exceptions import UnknownNameError
from chipfleet.workloads.hf_import import load_hf_config
from chipfleet.workloads.models import ModelArch
from chipfleet.workloads.records import compact, parse_records

ZOO_SCHEMA_VERSION = 1
ZOO_FILE = "models.yaml"


# ===================================================================== zoo
@dataclass(frozen=True)
class _Zoo:
    models: Mapping[str, ModelArch]  # by name, in file order
    exact: Mapping[str, str]  # lowercased name or alias -> name
    compact: Mapping[str, str]  # name or alias without separators -> name (ambiguous keys dropped)


def parse_zoo(text: str, origin: str) -> Mapping[str, ModelArch]:
    """Validate a zoo YAML document (``schema_version`` and ``models`` list) into models by name.

    Raises :class:`ModelConfigError` naming ``origin`` and the record for malformed YAML, a wrong schema
    version, an invalid record, or a duplicated name or alias.
    """
    return MappingProxyType(parse_records(text, origin, "models", ZOO_SCHEMA_VERSION, ModelArch, "model"))


def _index(models: Mapping[str, ModelArch]) -> _Zoo:
    exact: dict[str, str] = {}
    squeezed: dict[str, str | None] = {}
    for model in models.values():
        for key in (model.name, *model.aliases):
            exact[key.strip().lower()] = model.name
            c = compact(key)
            squeezed[c] = model.name if squeezed.get(c, model.name) == model.name else None
    unambiguous = {k: v for k, v in squeezed.items() if v is not None}
    return _Zoo(models, MappingProxyType(exact), MappingProxyType(unambiguous))


@functools.cache
def _zoo() -> _Zoo:
    """The shipped zoo, read from package data once per process."""
    resource = resources.files("chipfleet.workloads") / "data" / ZOO_FILE
    text = resource.read_text(encoding="utf-8")
    return _index(parse_zoo(text, origin=f"chipfleet/workloads/data/{ZOO_FILE}"))


def list_models() -> list[ModelArch]:
    """Every zoo model, in the order of ``data/models.yaml`` (grouped by family)."""
    return list(_zoo().models.values())


def get_model(name: str) -> ModelArch:
    """The zoo model called ``name``: its slug, an alias or HF repo id, any case or separators.

    ``llama-3-70b``, ``Llama-3-70B``, ``llama3_70b`` and ``meta-llama/Meta-Llama-3-70B`` are the same model;
    a quantized repo id (``nvidia/DeepSeek-R1-NVFP4``, ``Qwen/Qwen3-235B-A22B-FP8``) is the model it quantizes
    (:func:`implied_weight_precision` gives the precision it implies).
    A miss raises :class:`UnknownNameError` with the closest names.
    """
    zoo = _zoo()
    raw = name.strip()
    candidates = [raw]
    if "/" in raw:
        candidates.append(raw.rsplit("/", 1)[1])
    candidates += [c[: -len("-hf")] for c in list(candidates) if c.lower().endswith("-hf")]
    # a quantized variant (nvidia/DeepSeek-R1-0528-FP4-V2) is the architecture of the model it quantizes
    candidates += [base for base, q in map(_strip_quantization, list(candidates)) if q is not None]
    # a tuned variant (Llama-3.1-70B-Instruct, Llama-2-70b-chat-hf, gemma-2-9b-it) has its base model's
    # architecture, and Meta's older repo names say Meta-Llama-3.1-70B for Llama-3.1-70B
    candidates += [_base_name(c) for c in list(candidates)]
    for cand in candidates:
        hit = zoo.exact.get(cand.lower()) or zoo.compact.get(compact(cand))
        if hit is not None:
            return zoo.models[hit]
    raise UnknownNameError("model", name, zoo.models.keys())


# Suffixes of fine-tuned checkpoints that keep the base model's architecture: instruction and chat tunes, Gemma's
# "-it", Hugging Face's "-hf" conversions. Versions (-v0.2) and dates (-0528) name other releases and stay.
_TUNE_SUFFIX = re.compile(r"[-_](?:instruct|chat|it|hf|base)(?=$|[-_]v\d)", re.IGNORECASE)


def _base_name(name: str) -> str:
    """``meta-llama/Meta-Llama-3.1-70B-Instruct-FP8`` → ``Llama-3.1-70B``, ``Mistral-7B-Instruct-v0.1`` →
    ``Mistral-7B-v0.1``: the repo's own name without the tune and quantization suffixes and Meta's ``Meta-``
    prefix (a tune word before a version goes too; the version stays)."""
    base = name.rsplit("/", 1)[-1]
    while True:
        stripped = _TUNE_SUFFIX.sub("", _strip_quantization(base)[0], count=1)
        if stripped == base:
            break
        base = stripped
    return base[len("meta-") :] if base.lower().startswith("meta-llama") else base


# Suffixes of quantized checkpoints' repo ids and the weight precision each implies. Bare "FP4" is NVIDIA's
# NVFP4 (ModelOpt names its NVFP4 checkpoints nvidia/<model>-FP4, e.g. nvidia/DeepSeek-R1-0528-FP4-V2, whose
# card says NVFP4); AMD's Quark checkpoints say MXFP4. Names match catalog.schema.Precision values where it
# has them ("fp8", "int8", "int4", "bf16"); the FP4 names are "nvfp4" and "mxfp4".
_QUANT_SUFFIX = re.compile(
    r"[-_](?P<q>nvfp4|mxfp4|fp4|fp8|int4|int8|awq|gptq|w4a16|w8a8|bf16)"
    r"(?:[-_](?:v\d+|preview|dynamic|static|block|kv))*$",
    re.IGNORECASE,
)
_QUANT_PRECISION = {
    "nvfp4": "nvfp4",
    "fp4": "nvfp4",
    "mxfp4": "mxfp4",
    "fp8": "fp8",
    "int4": "int4",
    "awq": "int4",
    "gptq": "int4",
    "w4a16": "int4",
    "int8": "int8",
    "w8a8": "int8",
    "bf16": "bf16",
}


def _strip_quantization(name: str) -> tuple[str, str | None]:
    """``nvidia/DeepSeek-R1-0528-FP4-V2`` → (``nvidia/DeepSeek-R1-0528``, ``nvfp4``); no suffix: (name, None)."""
    match = _QUANT_SUFFIX.search(name.strip())
    if match is None:
        return name, None
    return name.strip()[: match.start()], _QUANT_PRECISION[match.group("q").lower()]


def checkpoint_precision(name: str) -> str | None:
    """The weight precision a quantized checkpoint's repo id names (``-FP8``, ``-NVFP4``, ``-AWQ`` ...), else
    ``None``: unlike :func:`implied_weight_precision`, a plain name does not fall back to the zoo record's."""
    return _strip_quantization(name)[1]


def implied_weight_precision(name: str) -> str | None:
    """The weight precision a model name or repo id implies: its quantization suffix, else the zoo record's.

    ``nvidia/DeepSeek-R1-NVFP4`` → ``nvfp4``, ``amd/DeepSeek-R1-0528-MXFP4-Preview`` → ``mxfp4``,
    ``Qwen/Qwen3-235B-A22B-FP8`` → ``fp8``; a name without a suffix gives the record's published precision of
    its routed experts, else of its weights (``openai/gpt-oss-120b`` → ``mxfp4``, ``deepseek-ai/DeepSeek-R1``
    → ``fp8``), or ``None`` when the record does not say. Raises :class:`UnknownNameError` like
    :func:`get_model` for a name that is no zoo model.
    """
    model = get_model(name)
    _, suffix = _strip_quantization(name)
    if suffix is not None:
        return suffix
    return model.native_expert_weight_precision or model.native_weight_precision or None


def resolve_model(name_or_path: str | Path) -> ModelArch:
    """A zoo model by name, or an imported config.json when given a ``Path`` or a string ending in ``.json``.

    A string that is no zoo name but an existing folder holding ``config.json`` is imported too;
    otherwise the zoo miss (:class:`UnknownNameError`, with suggestions) is raised.
    """
    if isinstance(name_or_path, Path) or name_or_path.strip().lower().endswith(".json"):
        return load_hf_config(name_or_path)
    try:
        return get_model(name_or_path)
    except UnknownNameError:
        if (Path(name_or_path) / "config.json").is_file():
            return load_hf_config(name_or_path)
        raise
