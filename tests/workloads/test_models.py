"""Unit tests for ModelArch: validation, derived defaults and the parameter/KV/FLOP formulas."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chipfleet.workloads import ModelArch, get_model


def _tiny(**overrides: Any) -> ModelArch:
    """A small Llama-style model whose counts are easy to do by hand."""
    fields: dict[str, Any] = {
        "name": "tiny",
        "display_name": "Tiny",
        "family": "llama",
        "kind": "decoder",
        "n_layers": 2,
        "hidden_size": 8,
        "n_heads": 4,
        "n_kv_heads": 2,
        "ffn_size": 16,
        "vocab_size": 10,
        "gated_mlp": True,
        "tied_embeddings": False,
        "max_position_embeddings": 32,
        "learned_position_embeddings": False,
        "norm": "rmsnorm",
        "attention_bias": False,
        "mlp_bias": False,
        "published_params": None,
        "source": "https://example.org/tiny",
        "as_of": "2024-01-01",
    }
    fields.update(overrides)
    return ModelArch.model_validate(fields)


# ----------------------------------------------------------------------------- validation and defaults
def test_derived_defaults() -> None:
    m = _tiny(n_kv_heads=None, head_dim=None)
    assert m.n_kv_heads == 4
    assert m.head_dim == 2
    assert m.attention_out_bias is False
    assert _tiny(attention_bias=True).attention_out_bias is True
    assert _tiny(attention_bias=True, attention_out_bias=False).attention_out_bias is False


def test_explicit_head_dim_allows_indivisible_hidden() -> None:
    assert _tiny(hidden_size=10, head_dim=4).head_dim == 4
    with pytest.raises(ValidationError, match="not divisible by n_heads"):
        _tiny(hidden_size=10)


def test_heads_must_be_multiple_of_kv_heads() -> None:
    with pytest.raises(ValidationError, match="multiple of n_kv_heads 3"):
        _tiny(n_kv_heads=3)


def test_top_k_not_above_experts() -> None:
    with pytest.raises(ValidationError, match="experts_top_k 3 exceeds n_experts 2"):
        _tiny(n_experts=2, experts_top_k=3)


@pytest.mark.parametrize("field", ["n_layers", "hidden_size", "n_heads", "ffn_size", "vocab_size"])
def test_sizes_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        _tiny(**{field: 0})


def test_bad_name_and_extra_fields_rejected() -> None:
    with pytest.raises(ValidationError, match="name"):
        _tiny(name="Tiny Model")
    with pytest.raises(ValidationError, match="n_layer"):
        _tiny(n_layer=3)


def test_frozen() -> None:
    m = _tiny()
    with pytest.raises(ValidationError):
        m.n_layers = 3  # type: ignore[misc]
    assert m.model_copy(update={"n_layers": 3}).n_layers == 3


# ----------------------------------------------------------------------------- parameter counts
def test_tiny_counts_by_hand() -> None:
    m = _tiny()
    # attention: Q 8·8 + K,V 2·8·(2·2) + O 8·8 = 64 + 64 + 64; MLP 3·8·16 = 384; 2 RMSNorms 2·8
    assert m.params_attention_per_layer == 192
    assert m.params_mlp_per_expert == 384
    assert m.params_per_layer == 192 + 384 + 16
    assert m.params_embedding == 80
    assert m.params_lm_head == 80
    assert m.params_total == 80 + 2 * 592 + 8 + 80
    assert m.params_active == m.params_total
    assert not m.is_moe


def test_biases_norms_and_learned_positions() -> None:
    m = _tiny(
        norm="layernorm",
        attention_bias=True,
        mlp_bias=True,
        gated_mlp=False,
        learned_position_embeddings=True,
        position_embedding_offset=2,
        tied_embeddings=True,
    )
    # attention biases: Q 8 + K,V 2·4 + O 8; MLP 2·8·16 + 16 + 8; LayerNorm 2·8 each
    assert m.params_attention_per_layer == 192 + 24
    assert m.params_mlp_per_expert == 256 + 24
    assert m.params_norms_per_layer == 32
    assert m.params_embedding == (10 + 32 + 2) * 8
    assert m.params_lm_head == 0


def test_moe_counts_every_expert_but_activates_top_k() -> None:
    m = _tiny(n_experts=4, experts_top_k=2)
    assert m.is_moe
    assert m.params_router_per_layer == 8 * 4
    assert m.params_per_layer == 192 + 16 + 4 * 384 + 32
    assert m.params_per_layer_active == 192 + 16 + 2 * 384 + 32
    assert m.params_total - m.params_active == 2 * 2 * 384


def test_mixtral_active_parameters() -> None:
    # Mistral AI, "Mixtral of experts" (2023-12-11): 46.7B total, 12.9B active per token.
    m = get_model("mixtral-8x7b")
    assert m.params_active < m.params_total
    assert m.params_total == 46_702_792_704
    assert m.params_active == 12_879_925_248
    assert m.params_active == pytest.approx(12.9e9, rel=0.005)
    assert m.params_total == pytest.approx(46.7e9, rel=0.005)


def test_bloom_embedding_parameters() -> None:
    # BLOOM model card: "3,596,615,680 embedding parameters".
    assert get_model("bloom-176b").params_embedding == 3_596_615_680


def test_gptj_untied_head_has_bias() -> None:
    m = get_model("gpt-j-6b")
    assert m.params_lm_head == 50400 * 4096 + 50400
    assert m.params_norms_per_layer == 2 * 4096  # one LayerNorm for the parallel block


def test_bert_counts_pooler_and_token_types() -> None:
    m = get_model("bert-large")
    assert m.kind == "encoder"
    assert m.params_embedding == (30522 + 512 + 2) * 1024
    # embedding LayerNorm + pooler (no final norm, no output head)
    assert m.params_outside_layers == 2 * 1024 + 1024 * 1024 + 1024
    assert m.params_lm_head == 0


# ----------------------------------------------------------------------------- KV cache and attention FLOPs
def test_kv_cache_bytes_llama_3_70b_bf16() -> None:
    # 2 (K and V) · 80 layers · 8 KV heads · 128 head dim · 2 bytes
    assert get_model("llama-3-70b").kv_cache_bytes_per_token(2) == 2 * 80 * 8 * 128 * 2 == 327_680


def test_kv_cache_gqa_vs_mha() -> None:
    assert get_model("llama-2-7b").kv_cache_bytes_per_token(2) == 2 * 32 * 32 * 128 * 2
    assert get_model("llama-3-8b").kv_cache_bytes_per_token(1) == 2 * 32 * 8 * 128
    with pytest.raises(ValueError):
        get_model("llama-3-8b").kv_cache_bytes_per_token(0)


def test_attention_flops_conventions() -> None:
    m = get_model("llama-2-7b")  # a·d = h
    L, h, s = m.n_layers, m.hidden_size, 4096
    full = m.attention_flops_per_token_forward(s, causal=False)
    assert full == 4 * L * s * h
    assert m.attention_flops_per_token_forward(s) == full / 2
    # MODELING.md: a causal prompt of length s costs about 2·L·s²·h attention FLOPs in prefill.
    assert s * m.attention_flops_per_token_forward(s) == 2 * L * s * s * h
    # Kaplan et al. 2020 non-causal training accounting: 12·L·s·h per token = 3 × forward.
    assert 3 * full == 12 * L * s * h
    assert m.attention_flops_per_token_forward(0) == 0
    with pytest.raises(ValueError):
        m.attention_flops_per_token_forward(-1)


def test_attention_flops_use_head_dim_not_hidden() -> None:
    m = _tiny(hidden_size=8, head_dim=4)  # a·d = 16 ≠ h
    assert m.attention_flops_per_token_forward(10, causal=False) == 4 * 2 * 10 * 4 * 4


def test_architecture_excludes_provenance() -> None:
    a = get_model("llama-3-8b").architecture()
    b = get_model("llama-3.1-8b").architecture()
    assert "name" not in a and "source" not in a and "published_params" not in a
    assert {k for k in a if a[k] != b[k]} == {"max_position_embeddings"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_layers", 10**9),  # 1e9 layers hung the training search (issue 10)
        ("hidden_size", 1 << 21),
        ("n_heads", 1 << 15),
        ("head_dim", 1 << 15),
        ("ffn_size", 1 << 23),
        ("vocab_size", 1 << 25),
        ("n_experts", 1 << 15),
        ("max_position_embeddings", 1 << 28),
    ],
)
def test_shapes_are_bounded_with_the_reason(field: str, value: int) -> None:
    """Each shape has a ceiling far above published models; going over names the field, the ceiling and why."""
    from chipfleet.workloads.models import MODEL_SHAPE_LIMITS

    extra: dict[str, Any] = {field: value}
    if field == "n_heads":
        extra.update(n_kv_heads=1, head_dim=4)
    if field == "n_experts":
        extra["experts_top_k"] = 1
    with pytest.raises(ValidationError, match=rf"{field} = {value} is above chipfleet's ceiling"):
        _tiny(**extra)
    limit = MODEL_SHAPE_LIMITS[field][0]
    at_limit: dict[str, Any] = {**extra, field: limit}
    if field == "hidden_size":
        at_limit["head_dim"] = 2
    _tiny(**at_limit)  # the ceiling itself is allowed


def test_zoo_is_within_the_shape_ceilings() -> None:
    from chipfleet.workloads import list_models
    from chipfleet.workloads.models import MODEL_SHAPE_LIMITS

    for m in list_models():
        for field, (limit, _) in MODEL_SHAPE_LIMITS.items():
            assert getattr(m, field) <= limit / 8, (m.name, field)
