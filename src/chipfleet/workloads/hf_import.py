"""The importer of Hugging Face ``config.json`` files: one function per ``model_type`` (``HF_IMPORTERS``).

``load_hf_config`` reads a file (or a model folder) and ``arch_from_hf_config`` parsed contents into a
:class:`ModelArch`; each importer maps its architecture's keys onto ModelArch's fields, with the defaults of
the matching ``transformers`` config class for keys a published file leaves out, and errors that name the
file, the key and the fix.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from chipfleet.exceptions import ModelConfigError, did_you_mean
from chipfleet.workloads.models import ModelArch, is_slug
from chipfleet.workloads.records import format_validation_error

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

    def text(self, key: str, default: str = "") -> str:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ModelConfigError(f"{self.origin}: key {key!r} is {value!r}; expected a string. Fix its value.")
        return value

    def seq(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ModelConfigError(f"{self.origin}: key {key!r} is {value!r}; expected a list. Fix its value.")
        return value

    def sub(self, key: str) -> _HFConfig:
        """The nested config under ``key`` (a multimodal checkpoint's ``text_config``), else this one."""
        value = self.raw.get(key)
        if value is None:
            return self
        if not isinstance(value, Mapping):
            raise ModelConfigError(f"{self.origin}: key {key!r} is {value!r}; expected an object. Fix its value.")
        return _HFConfig(value, f"{self.origin} ({key})", self.model_type)

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


def _pattern(kinds: list[str]) -> tuple[str, ...]:
    """The shortest cycle that repeats to ``kinds`` (one attention kind per layer)."""
    for period in range(1, len(kinds) + 1):
        if all(k == kinds[i % period] for i, k in enumerate(kinds)):
            cycle = tuple(kinds[:period])
            return () if cycle == ("full",) else cycle
    return ()


def _layer_types(cfg: _HFConfig, n_layers: int) -> tuple[str, ...] | None:
    """``layer_types`` (``sliding_attention`` / ``full_attention`` per layer) as an attention pattern."""
    types = cfg.seq("layer_types")
    if not types:
        return None
    names = {
        "sliding_attention": "sliding",
        "full_attention": "full",
        "chunked_attention": "chunked",
        "linear_attention": "linear",
    }
    if len(types) != n_layers or any(t not in names for t in types):
        raise ModelConfigError(
            f"{cfg.origin}: layer_types must give one of {', '.join(sorted(names))} for each of the "
            f"{n_layers} layers. Fix the list."
        )
    return _pattern([names[t] for t in types])


def _experts(cfg: _HFConfig, *keys: str) -> dict[str, Any]:
    return {"n_experts": cfg.int(*keys), "experts_top_k": cfg.int("num_experts_per_tok", "experts_per_token")}


def _qwen3(cfg: _HFConfig) -> dict[str, Any]:
    fields = _llama_like(cfg, "qwen3", kv_default_to_heads=False)
    fields["qk_norm"] = "head"  # Qwen3Attention: q_norm and k_norm, RMSNorm(head_dim)
    return fields


def _qwen_moe(cfg: _HFConfig, family: str) -> dict[str, Any]:
    if cfg.seq("mlp_only_layers"):
        raise ModelConfigError(
            f"{cfg.origin}: mlp_only_layers lists dense layers at arbitrary places, which chipfleet does not "
            "model; it models leading dense layers and a regular interval (decoder_sparse_step)."
        )
    fields = _qwen2(cfg) if family == "qwen2_moe" else _qwen3(cfg)
    shared = cfg.int("shared_expert_intermediate_size", default=0)
    fields.update(
        family=family,
        ffn_size=cfg.int("moe_intermediate_size"),
        dense_ffn_size=cfg.int("intermediate_size"),
        moe_layer_interval=cfg.int("decoder_sparse_step", default=1),
        n_shared_experts=1 if shared else 0,
        shared_expert_ffn_size=shared,
        shared_expert_gate=bool(shared),  # Qwen2MoeSparseMoeBlock: shared_expert_gate = Linear(h, 1)
        **_experts(cfg, "num_experts"),
    )
    return fields


def _qwen2_moe(cfg: _HFConfig) -> dict[str, Any]:
    return _qwen_moe(cfg, "qwen2_moe")


def _qwen3_moe(cfg: _HFConfig) -> dict[str, Any]:
    return _qwen_moe(cfg, "qwen3_moe")


def _deepseek(cfg: _HFConfig) -> dict[str, Any]:
    # DeepSeek-V2/V3 (and Kimi-K2, which ships a deepseek_v3 layout): MLA, shared experts, leading dense layers.
    if cfg.int("moe_layer_freq", default=1) != 1:
        raise ModelConfigError(f"{cfg.origin}: moe_layer_freq other than 1 is not modeled. Use a published config.")
    heads = cfg.int("num_attention_heads")
    fields = _llama_like(cfg, "deepseek", kv_default_to_heads=True)
    fields.update(
        family="kimi" if cfg.model_type == "kimi_k2" else "deepseek",
        n_kv_heads=heads,  # MLA: every head has its key and value (from the shared latent)
        head_dim=0,
        ffn_size=cfg.int("moe_intermediate_size"),
        dense_ffn_size=cfg.int("intermediate_size"),
        n_shared_experts=cfg.int("n_shared_experts", default=0),
        first_k_dense_layers=cfg.int("first_k_dense_replace", default=0),
        # V3's noaux_tc routing keeps a per-expert score correction (e_score_correction_bias) in the checkpoint
        router_bias=cfg.text("topk_method") == "noaux_tc",
        kv_lora_rank=cfg.int("kv_lora_rank"),
        q_lora_rank=cfg.int("q_lora_rank", default=0),
        qk_rope_head_dim=cfg.int("qk_rope_head_dim"),
        qk_nope_head_dim=cfg.int("qk_nope_head_dim"),
        v_head_dim=cfg.int("v_head_dim"),
        mtp_layers=cfg.int("num_nextn_predict_layers", default=0),
        **_experts(cfg, "n_routed_experts"),
    )
    return fields


def _kimi_k25(outer: _HFConfig) -> dict[str, Any]:
    # Kimi-K2.5 (KimiK25ForConditionalGeneration): a deepseek_v3-layout text_config beside a MoonViT-3D tower,
    # which is not imported (a vision tower is counted apart, ModelArch.params_vision)
    fields = _deepseek(outer.sub("text_config"))
    fields["family"] = "kimi"
    return fields


def _hybrid_qwen(cfg: _HFConfig, family: str) -> dict[str, Any]:
    """Qwen3-Next and Qwen3.5: Gated DeltaNet layers with a gated full-attention layer every
    ``full_attention_interval`` (``layer_types`` when given), per-head Q/K norms, MTP modules."""
    if family != "qwen3_5" and "intermediate_size" not in cfg.raw:
        # an MoE text config may leave out the dense FFN size, which no layer of the model uses
        cfg = _HFConfig({**cfg.raw, "intermediate_size": cfg.int("moe_intermediate_size")}, cfg.origin, cfg.model_type)
    n_layers = cfg.int("num_hidden_layers")
    pattern = _layer_types(cfg, n_layers)
    if pattern is None:
        every = cfg.int("full_attention_interval", default=4)
        pattern = _pattern(["full" if (i + 1) % every == 0 else "linear" for i in range(n_layers)])
    fields = _qwen3(cfg)
    fields.update(
        family=family,
        attention_pattern=pattern,
        attention_output_gate=cfg.bool("attn_output_gate", True),  # Qwen3NextConfig default
        linear_attention="gated_deltanet",
        linear_num_key_heads=cfg.int("linear_num_key_heads", default=16),
        linear_num_value_heads=cfg.int("linear_num_value_heads", default=32),
        linear_key_head_dim=cfg.int("linear_key_head_dim", default=128),
        linear_value_head_dim=cfg.int("linear_value_head_dim", default=128),
        linear_conv_kernel=cfg.int("linear_conv_kernel_dim", default=4),
        mtp_layers=cfg.int("mtp_num_hidden_layers", "num_nextn_predict_layers", default=0),
    )
    if family == "qwen3_5":
        return fields
    if cfg.seq("mlp_only_layers") or cfg.int("decoder_sparse_step", default=1) != 1:
        raise ModelConfigError(
            f"{cfg.origin}: {family} with dense layers (mlp_only_layers, decoder_sparse_step) is not modeled; "
            "every published Qwen3-Next and Qwen3.5 MoE layer has experts."
        )
    shared = cfg.int("shared_expert_intermediate_size", default=0)
    fields.update(
        ffn_size=cfg.int("moe_intermediate_size"),
        n_shared_experts=1 if shared else 0,
        shared_expert_ffn_size=shared,
        shared_expert_gate=bool(shared),  # Qwen3NextSparseMoeBlock: shared_expert_gate = Linear(h, 1)
        **_experts(cfg, "num_experts"),
    )
    return fields


def _qwen3_next(cfg: _HFConfig) -> dict[str, Any]:
    return _hybrid_qwen(cfg, "qwen3_next")


def _qwen3_5_family(outer: _HFConfig, family: str) -> dict[str, Any]:
    # Qwen3_5(Moe)ForConditionalGeneration: the text model is under text_config (a text-only file is flat);
    # tie_word_embeddings may sit on the outer config only
    cfg = outer.sub("text_config")
    fields = _hybrid_qwen(cfg, family)
    if "tie_word_embeddings" not in cfg.raw:
        fields["tied_embeddings"] = outer.bool("tie_word_embeddings", False)
    return fields


def _qwen3_5(outer: _HFConfig) -> dict[str, Any]:
    return _qwen3_5_family(outer, "qwen3_5")


def _qwen3_5_moe(outer: _HFConfig) -> dict[str, Any]:
    return _qwen3_5_family(outer, "qwen3_5_moe")


def _quantization(cfg: _HFConfig) -> str:
    q = cfg.raw.get("quantization_config")
    method = q.get("quant_method") if isinstance(q, Mapping) else None
    return method.lower() if isinstance(method, str) else ""


def _gpt_oss(cfg: _HFConfig) -> dict[str, Any]:
    n_layers = cfg.int("num_hidden_layers")
    fields = _llama_like(cfg, "gpt_oss", kv_default_to_heads=False)
    fields.update(
        attention_bias=True,  # GptOssAttention: q/k/v/o all with bias
        mlp_bias=True,  # gate_up_proj_bias and down_proj_bias per expert
        router_bias=True,
        attention_sinks=True,
        sliding_window=cfg.int("sliding_window"),
        attention_pattern=_layer_types(cfg, n_layers) or ("sliding", "full"),
        **_experts(cfg, "num_local_experts"),
    )
    if _quantization(cfg) == "mxfp4":  # experts in MXFP4; attention, router, embeddings and head in bf16
        fields.update(native_weight_precision="bf16", native_expert_weight_precision="mxfp4")
    return fields


def _llama4(outer: _HFConfig) -> dict[str, Any]:
    cfg = outer.sub("text_config")
    n_layers = cfg.int("num_hidden_layers")
    step = cfg.int("interleave_moe_layer_step", default=1)
    moe_layers = cfg.seq("moe_layers")
    if moe_layers and moe_layers != list(range(step - 1, n_layers, step)):
        raise ModelConfigError(f"{cfg.origin}: moe_layers is not every {step}th layer, which chipfleet does not model.")
    rope = cfg.seq("no_rope_layers")  # 1: a RoPE layer, which attends in chunks; 0: a global NoPE layer
    if not rope:
        interval = cfg.int("no_rope_layer_interval", default=4)
        rope = [int((i + 1) % interval != 0) for i in range(n_layers)]
    chunk = cfg.int("attention_chunk_size", default=0)
    kinds = ["chunked" if r and chunk else "full" for r in rope]
    fields = _llama_like(cfg, "llama4", kv_default_to_heads=False)
    fields.update(
        dense_ffn_size=cfg.int("intermediate_size_mlp"),
        n_shared_experts=1,  # Llama4TextMoe: shared_expert at intermediate_size
        moe_layer_interval=step,
        attention_chunk_size=chunk,
        attention_pattern=_pattern(kinds),
        **_experts(cfg, "num_local_experts"),
    )
    return fields


def _gemma(cfg: _HFConfig, family: str, pattern: tuple[str, ...], defaults: dict[str, int]) -> dict[str, Any]:
    n_layers = cfg.int("num_hidden_layers")
    fields = {
        "family": family,
        "kind": "decoder",
        "n_layers": n_layers,
        "hidden_size": cfg.int("hidden_size"),
        "n_heads": cfg.int("num_attention_heads"),
        "n_kv_heads": cfg.int("num_key_value_heads"),
        "head_dim": cfg.int("head_dim", default=defaults["head_dim"]),
        "ffn_size": cfg.int("intermediate_size"),
        "vocab_size": cfg.int("vocab_size", default=defaults["vocab_size"]),
        "gated_mlp": True,  # GeGLU
        "tied_embeddings": cfg.bool("tie_word_embeddings", True),
        "max_position_embeddings": cfg.int("max_position_embeddings", default=defaults["max_position_embeddings"]),
        "learned_position_embeddings": False,
        "norm": "rmsnorm",
        "norms_per_layer": 4,  # input, post-attention, pre- and post-feedforward
        "attention_bias": cfg.bool("attention_bias", False),
        "mlp_bias": False,
        "sliding_window": cfg.int("sliding_window", default=defaults["sliding_window"]),
        "attention_pattern": _layer_types(cfg, n_layers) or pattern,
    }
    return fields


def _gemma2(cfg: _HFConfig) -> dict[str, Any]:
    # Gemma2DecoderLayer: even layers slide (is_sliding = not layer_idx % 2); defaults of Gemma2Config
    defaults = {"head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 8192, "sliding_window": 4096}
    return _gemma(cfg, "gemma2", ("sliding", "full"), defaults)


def _gemma3(outer: _HFConfig) -> dict[str, Any]:
    # Gemma3TextConfig defaults fill what the published text_config leaves out; every 6th layer is global
    cfg = outer.sub("text_config")
    defaults = {"head_dim": 256, "vocab_size": 262208, "max_position_embeddings": 131072, "sliding_window": 4096}
    every = cfg.int("sliding_window_pattern", default=6)
    fields = _gemma(cfg, "gemma3", ("sliding",) * (every - 1) + ("full",), defaults)
    fields["qk_norm"] = "head"
    return fields


def _glm4_moe(cfg: _HFConfig) -> dict[str, Any]:
    fields = _llama_like(cfg, "glm4_moe", kv_default_to_heads=False)
    fields.update(
        attention_bias=cfg.bool("attention_bias", True),
        attention_out_bias=False,  # Glm4MoeAttention: o_proj has no bias
        qk_norm="head" if cfg.bool("use_qk_norm", False) else "none",
        ffn_size=cfg.int("moe_intermediate_size"),
        dense_ffn_size=cfg.int("intermediate_size"),
        n_shared_experts=cfg.int("n_shared_experts", default=0),
        first_k_dense_layers=cfg.int("first_k_dense_replace", default=0),
        router_bias=True,  # Glm4MoeTopkRouter's e_score_correction_bias
        mtp_layers=cfg.int("num_nextn_predict_layers", default=0),
        **_experts(cfg, "n_routed_experts"),
    )
    return fields


def _minimax_m2(cfg: _HFConfig) -> dict[str, Any]:
    if cfg.int("shared_intermediate_size", default=0):
        raise ModelConfigError(f"{cfg.origin}: MiniMax shared experts are not modeled. Use a published config.")
    norm_type = cfg.text("qk_norm_type", "per_layer")
    fields = _llama_like(cfg, "minimax", kv_default_to_heads=False)
    fields.update(
        qk_norm=("layer" if norm_type == "per_layer" else "head") if cfg.bool("use_qk_norm", False) else "none",
        router_bias=cfg.bool("use_routing_bias", False),  # e_score_correction_bias
        **_experts(cfg, "num_local_experts"),
    )
    return fields


def _minimax_m1(cfg: _HFConfig) -> dict[str, Any]:
    # MiniMax-Text-01 / MiniMax-M1: lightning (linear) attention layers with a softmax layer every 8th
    if cfg.int("shared_intermediate_size", default=0):
        raise ModelConfigError(f"{cfg.origin}: MiniMax shared experts are not modeled. Use a published config.")
    n_layers = cfg.int("num_hidden_layers")
    pattern = _layer_types(cfg, n_layers)
    if pattern is None:
        kinds = cfg.seq("attn_type_list")  # 0: lightning (linear) attention, 1: softmax attention
        if len(kinds) != n_layers or any(k not in (0, 1) for k in kinds):
            raise ModelConfigError(
                f"{cfg.origin}: attn_type_list must give 0 (linear) or 1 (softmax) for each of the {n_layers} "
                "layers (or give layer_types). Fix the list."
            )
        pattern = _pattern(["full" if k else "linear" for k in kinds])
    fields = _llama_like(cfg, "minimax", kv_default_to_heads=False)
    fields.update(attention_pattern=pattern, **_experts(cfg, "num_local_experts"))
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
        "qwen3": _qwen3,
        "qwen2_moe": _qwen2_moe,
        "qwen3_moe": _qwen3_moe,
        "deepseek_v2": _deepseek,
        "deepseek_v3": _deepseek,
        "kimi_k2": _deepseek,
        "kimi_k25": _kimi_k25,
        "qwen3_next": _qwen3_next,
        "qwen3_5": _qwen3_5,
        "qwen3_5_text": _qwen3_5,
        "qwen3_5_moe": _qwen3_5_moe,
        "qwen3_5_moe_text": _qwen3_5_moe,
        "gpt_oss": _gpt_oss,
        "llama4": _llama4,
        "llama4_text": _llama4,
        "gemma2": _gemma2,
        "gemma3": _gemma3,
        "gemma3_text": _gemma3,
        "glm4_moe": _glm4_moe,
        "minimax_m2": _minimax_m2,
        "minimax": _minimax_m1,
        "minimax_m1": _minimax_m1,
        "minimax_text_01": _minimax_m1,
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

    Supported ``model_type``: llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, deepseek_v2,
    deepseek_v3, kimi_k2, kimi_k25, gpt_oss, llama4 (and llama4_text), gemma2, gemma3 (and gemma3_text),
    glm4_moe, minimax_m2, minimax (and minimax_m1, minimax_text_01), qwen3_next, qwen3_5 and qwen3_5_moe (and
    their _text configs), gpt2, gptj, gpt_neox, opt, bloom, bert (see
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
