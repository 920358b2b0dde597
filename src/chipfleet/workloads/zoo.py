"""The model zoo (shipped ``data/models.yaml``) and the importer for Hugging Face ``config.json`` files.

``get_model`` looks a zoo model up by name (case-insensitive; aliases and HF repo ids such as
``meta-llama/Meta-Llama-3-70B`` or spellings such as ``llama3-70b`` work too); ``load_hf_config`` turns a
``config.json`` into a :class:`ModelArch`; ``resolve_model`` does whichever of the two a string asks for.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from chipfleet.exceptions import ModelConfigError, UnknownNameError, did_you_mean
from chipfleet.workloads.models import ModelArch, is_slug
from chipfleet.workloads.records import compact, format_validation_error, parse_records

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

    ``llama-3-70b``, ``Llama-3-70B``, ``llama3_70b`` and ``meta-llama/Meta-Llama-3-70B`` are the same model.
    A miss raises :class:`UnknownNameError` with the closest names.
    """
    zoo = _zoo()
    raw = name.strip()
    candidates = [raw]
    if "/" in raw:
        candidates.append(raw.rsplit("/", 1)[1])
    candidates += [c[: -len("-hf")] for c in list(candidates) if c.lower().endswith("-hf")]
    for cand in candidates:
        hit = zoo.exact.get(cand.lower()) or zoo.compact.get(compact(cand))
        if hit is not None:
            return zoo.models[hit]
    raise UnknownNameError("model", name, zoo.models.keys())


# ===================================================================== Hugging Face config.json
_KEY_MEANING = {
    "num_hidden_layers": "the number of transformer layers",
    "n_layer": "the number of transformer layers",
    "hidden_size": "the model (embedding) width",
    "n_embd": "the model (embedding) width",
    "num_attention_heads": "the number of query heads",
    "n_head": "the number of query heads",
    "num_key_value_heads": "the number of key/value heads (grouped-query attention)",
    "intermediate_size": "the FFN inner size",
    "ffn_dim": "the FFN inner size",
    "vocab_size": "the vocabulary size",
    "max_position_embeddings": "the longest supported sequence",
    "n_positions": "the longest supported sequence",
    "num_local_experts": "the number of experts per MoE layer",
    "num_experts_per_tok": "the number of experts each token is routed to",
}


class _HFConfig:
    """Typed reads from a raw config.json, with errors that name the file, the key and the fix."""

    def __init__(self, raw: Mapping[str, Any], origin: str, model_type: str) -> None:
        self.raw = raw
        self.origin = origin
        self.model_type = model_type

    def _missing(self, keys: tuple[str, ...]) -> ModelConfigError:
        meaning = _KEY_MEANING.get(keys[0], "")
        what = f" ({meaning})" if meaning else ""
        alt = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
        return ModelConfigError(
            f"{self.origin}: missing key {keys[0]!r}{alt}{what}, required for model_type "
            f"{self.model_type!r}. Add it to the file; the model's published config.json on the Hugging "
            "Face Hub has it."
        )

    def int(self, *keys: str, default: int | None = None) -> int:
        for key in keys:
            value = self.raw.get(key)
            if value is None:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ModelConfigError(
                    f"{self.origin}: key {key!r} is {value!r}; expected a whole number. Fix its value."
                )
            return value
        if default is not None:
            return default
        raise self._missing(keys)

    def bool(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ModelConfigError(f"{self.origin}: key {key!r} is {value!r}; expected true or false. Fix its value.")
        return value


def _llama_like(cfg: _HFConfig, family: str, *, kv_default_to_heads: bool) -> dict[str, Any]:
    heads = cfg.int("num_attention_heads")
    kv = cfg.int("num_key_value_heads", default=heads) if kv_default_to_heads else cfg.int("num_key_value_heads")
    return {
        "family": family,
        "kind": "decoder",
        "n_layers": cfg.int("num_hidden_layers"),
        "hidden_size": cfg.int("hidden_size"),
        "n_heads": heads,
        "n_kv_heads": kv,
        "head_dim": cfg.int("head_dim", default=0),
        "ffn_size": cfg.int("intermediate_size"),
        "vocab_size": cfg.int("vocab_size"),
        "gated_mlp": True,
        "tied_embeddings": cfg.bool("tie_word_embeddings", False),
        "max_position_embeddings": cfg.int("max_position_embeddings"),
        "learned_position_embeddings": False,
        "norm": "rmsnorm",
        "attention_bias": cfg.bool("attention_bias", False),
        "mlp_bias": cfg.bool("mlp_bias", False),
    }


def _llama(cfg: _HFConfig) -> dict[str, Any]:
    # LlamaConfig: a missing num_key_value_heads means multi-head attention (Llama 1, Llama 2 7B/13B).
    return _llama_like(cfg, "llama", kv_default_to_heads=True)


def _mistral(cfg: _HFConfig) -> dict[str, Any]:
    return _llama_like(cfg, "mistral", kv_default_to_heads=False)


def _mixtral(cfg: _HFConfig) -> dict[str, Any]:
    fields = _llama_like(cfg, "mixtral", kv_default_to_heads=False)
    fields["n_experts"] = cfg.int("num_local_experts")
    fields["experts_top_k"] = cfg.int("num_experts_per_tok")
    return fields


def _qwen2(cfg: _HFConfig) -> dict[str, Any]:
    fields = _llama_like(cfg, "qwen2", kv_default_to_heads=False)
    fields["attention_bias"] = True  # Qwen2 has biases on Q, K and V ...
    fields["attention_out_bias"] = False  # ... but not on the output projection
    return fields


def _gpt2_like(cfg: _HFConfig) -> dict[str, Any]:
    hidden = cfg.int("n_embd", "hidden_size")
    return {
        "kind": "decoder",
        "n_layers": cfg.int("n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "n_heads": cfg.int("n_head", "num_attention_heads"),
        "ffn_size": cfg.int("n_inner", default=4 * hidden),  # null n_inner means 4·n_embd
        "vocab_size": cfg.int("vocab_size"),
        "gated_mlp": False,
        "max_position_embeddings": cfg.int("n_positions", "max_position_embeddings", "n_ctx"),
        "norm": "layernorm",
        "mlp_bias": True,
    }


def _gpt2(cfg: _HFConfig) -> dict[str, Any]:
    return {
        **_gpt2_like(cfg),
        "family": "gpt2",
        "tied_embeddings": cfg.bool("tie_word_embeddings", True),
        "learned_position_embeddings": True,
        "attention_bias": True,
    }


def _gptj(cfg: _HFConfig) -> dict[str, Any]:
    tied = cfg.bool("tie_word_embeddings", False)
    return {
        **_gpt2_like(cfg),
        "family": "gptj",
        "tied_embeddings": tied,
        "lm_head_bias": not tied,  # GPT-J's lm_head is Linear(n_embd, vocab, bias=True)
        "learned_position_embeddings": False,  # rotary
        "attention_bias": False,
        "norms_per_layer": 1,
        "parallel_attn_mlp": True,
    }


def _opt(cfg: _HFConfig) -> dict[str, Any]:
    hidden = cfg.int("hidden_size")
    proj = cfg.int("word_embed_proj_dim", default=hidden)
    if proj != hidden:
        raise ModelConfigError(
            f"{cfg.origin}: word_embed_proj_dim {proj} differs from hidden_size {hidden} (OPT-350m style "
            "embedding projections), which chipfleet does not model. Use an OPT model whose two are equal."
        )
    bias = cfg.bool("enable_bias", True)
    pre_norm = cfg.bool("do_layer_norm_before", True)
    return {
        "family": "opt",
        "kind": "decoder",
        "n_layers": cfg.int("num_hidden_layers"),
        "hidden_size": hidden,
        "n_heads": cfg.int("num_attention_heads"),
        "ffn_size": cfg.int("ffn_dim"),
        "vocab_size": cfg.int("vocab_size"),
        "gated_mlp": False,
        "tied_embeddings": cfg.bool("tie_word_embeddings", True),
        "max_position_embeddings": cfg.int("max_position_embeddings"),
        "learned_position_embeddings": True,
        "position_embedding_offset": 2,  # OPTLearnedPositionalEmbedding stores 2 extra rows
        "norm": "layernorm",
        "final_norm": pre_norm and not cfg.bool("_remove_final_layer_norm", False),
        "attention_bias": bias,
        "mlp_bias": bias,
    }


def _bloom(cfg: _HFConfig) -> dict[str, Any]:
    hidden = cfg.int("hidden_size", "n_embed")
    return {
        "family": "bloom",
        "kind": "decoder",
        "n_layers": cfg.int("n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "n_heads": cfg.int("n_head", "num_attention_heads"),
        "ffn_size": 4 * hidden,  # BloomMLP is fixed at 4·h
        "vocab_size": cfg.int("vocab_size"),
        "gated_mlp": False,
        "tied_embeddings": cfg.bool("tie_word_embeddings", True),
        # ALiBi has no position table; BLOOM's config has no length, so take its training length.
        "max_position_embeddings": cfg.int("seq_length", "max_position_embeddings", default=2048),
        "learned_position_embeddings": False,
        "embedding_norm": True,
        "norm": "layernorm",
        "attention_bias": True,
        "mlp_bias": True,
    }


def _bert(cfg: _HFConfig) -> dict[str, Any]:
    return {
        "family": "bert",
        "kind": "encoder",
        "n_layers": cfg.int("num_hidden_layers"),
        "hidden_size": cfg.int("hidden_size"),
        "n_heads": cfg.int("num_attention_heads"),
        "ffn_size": cfg.int("intermediate_size"),
        "vocab_size": cfg.int("vocab_size"),
        "gated_mlp": False,
        "tied_embeddings": True,  # counted as BertModel: no separate output head
        "max_position_embeddings": cfg.int("max_position_embeddings"),
        "learned_position_embeddings": True,
        "type_vocab_size": cfg.int("type_vocab_size", default=2),
        "embedding_norm": True,
        "pooler": True,
        "norm": "layernorm",
        "final_norm": False,
        "attention_bias": True,
        "mlp_bias": True,
    }


def _gpt_neox(cfg: _HFConfig) -> dict[str, Any]:
    return {
        "family": "gpt_neox",
        "kind": "decoder",
        "n_layers": cfg.int("num_hidden_layers"),
        "hidden_size": cfg.int("hidden_size"),
        "n_heads": cfg.int("num_attention_heads"),
        "ffn_size": cfg.int("intermediate_size"),
        "vocab_size": cfg.int("vocab_size"),
        "gated_mlp": False,
        "tied_embeddings": cfg.bool("tie_word_embeddings", False),
        "max_position_embeddings": cfg.int("max_position_embeddings"),
        "learned_position_embeddings": False,  # rotary
        "norm": "layernorm",
        "norms_per_layer": 2,  # parallel residual still has two LayerNorms per layer
        "attention_bias": cfg.bool("attention_bias", True),
        "mlp_bias": True,
        "parallel_attn_mlp": cfg.bool("use_parallel_residual", True),
    }


HF_IMPORTERS: Mapping[str, Callable[[_HFConfig], dict[str, Any]]] = MappingProxyType(
    {
        "llama": _llama,
        "mistral": _mistral,
        "mixtral": _mixtral,
        "qwen2": _qwen2,
        "gpt2": _gpt2,
        "gptj": _gptj,
        "gpt_neox": _gpt_neox,
        "opt": _opt,
        "bloom": _bloom,
        "bert": _bert,
    }
)
"""``model_type`` → function from the config to ModelArch fields; the supported architectures."""


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.strip().lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    return slug


def arch_from_hf_config(
    config: Mapping[str, Any], *, name: str | None = None, source: str = "", as_of: str | None = None
) -> ModelArch:
    """A :class:`ModelArch` from the parsed contents of a Hugging Face ``config.json``.

    ``name`` defaults to the last part of ``_name_or_path`` (else ``hf-<model_type>``), slugified;
    ``source`` names where the config came from and appears in every error message.
    """
    origin = source or "config.json"
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ModelConfigError(
            f"{origin}: missing key 'model_type', which says which architecture the file describes. "
            f"Add it (one of {', '.join(sorted(HF_IMPORTERS))})."
        )
    importer = HF_IMPORTERS.get(model_type)
    if importer is None:
        close = did_you_mean(model_type, HF_IMPORTERS)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelConfigError(
            f"{origin}: model_type {model_type!r} is not supported.{hint} Supported: "
            f"{', '.join(sorted(HF_IMPORTERS))}. For another architecture, add a record to a model YAML "
            "file (see chipfleet/workloads/data/models.yaml) instead."
        )
    fields = importer(_HFConfig(config, origin, model_type))

    hub_name = config.get("_name_or_path")
    hub_last = hub_name.rstrip("/").rsplit("/", 1)[-1] if isinstance(hub_name, str) else ""
    chosen = name or hub_last
    slug = _slugify(chosen) if chosen else ""
    if not slug or not is_slug(slug):
        slug = f"hf-{_slugify(model_type)}"
    fields.update(
        name=slug,
        display_name=name or hub_last or slug,
        published_params=None,
        source=source or "config.json",
        as_of=as_of or _dt.date.today().isoformat(),
        notes=f"imported from a Hugging Face config.json (model_type {model_type!r})",
    )
    try:
        return ModelArch.model_validate(fields)
    except ValidationError as e:
        raise ModelConfigError(
            f"{origin}: the config describes an invalid {model_type} architecture: "
            f"{format_validation_error(e)}. Fix the values in the file."
        ) from None


def load_hf_config(path: str | Path, name: str | None = None) -> ModelArch:
    """Import a Hugging Face ``config.json`` (or a model folder holding one) as a :class:`ModelArch`.

    Supported ``model_type``: llama, mistral, mixtral, qwen2, gpt2, gptj, gpt_neox, opt, bloom, bert (see
    ``HF_IMPORTERS``). ``as_of`` is the file's modification date. A missing file, invalid JSON, an
    unsupported ``model_type`` or a missing key raises :class:`ModelConfigError` naming the file and key.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "config.json"
    if not file.is_file():
        raise ModelConfigError(
            f"{file}: no such file. Pass the path of a Hugging Face config.json (download it from "
            "https://huggingface.co/<org>/<model>/blob/main/config.json), or a zoo model name "
            "(chipfleet.workloads.list_models() lists them)."
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelConfigError(f"{file}: cannot be read ({e}).") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelConfigError(
            f"{file}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}). Fix the file or "
            "download config.json again."
        ) from None
    if not isinstance(raw, dict):
        raise ModelConfigError(
            f"{file}: expected a JSON object of config keys, got {type(raw).__name__}. Is this a config.json?"
        )
    as_of = _dt.date.fromtimestamp(file.stat().st_mtime).isoformat()
    return arch_from_hf_config(raw, name=name, source=str(file), as_of=as_of)


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
