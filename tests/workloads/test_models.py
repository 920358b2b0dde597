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


# ----------------------------------------------------------------------------- issue 12: today's structure
def test_new_fields_default_to_the_old_counts() -> None:
    """Every optional structure off: the counts are the uniform-layer formulas of before."""
    m = _tiny()
    assert m.n_moe_layers == 0 and m.n_dense_layers == 2 and not m.is_mla
    assert m.params_mtp == 0 and m.params_checkpoint == m.params_total == m.params_published_basis
    assert m.params_per_layer == m.params_dense_layer
    assert m.params_layers == 2 * m.params_dense_layer


def test_mla_attention_counts_by_hand() -> None:
    # h 8, a 4 heads; q latent 3, kv latent 5, d_nope 2, d_rope 1, d_v 2
    m = _tiny(n_kv_heads=4, kv_lora_rank=5, q_lora_rank=3, qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
    assert m.head_dim == 3
    q = 8 * 3 + 3 + 3 * 4 * 3  # down, its norm, up
    kv = 8 * (5 + 1) + 5 + 5 * 4 * (2 + 2)  # down with the rope key, its norm, up to K_nope and V
    o = 4 * 2 * 8
    assert m.params_attention_per_layer == q + kv + o
    # the cache holds the latent and the rope key per layer, whatever the heads
    assert m.kv_cache_bytes_per_token(2) == 2 * (5 + 1) * 2
    assert m.kv_elements_per_token_per_layer(kv_heads=1) == 6
    # each head attends with d_qk = 3 and mixes values of d_v = 2
    assert m.attention_flops_per_token_forward(10, causal=False) == 2 * 4 * (3 + 2) * 10 * 2


def test_mla_without_query_latent() -> None:
    m = _tiny(n_kv_heads=4, kv_lora_rank=5, qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
    assert m.params_attention_per_layer == 8 * 4 * 3 + 8 * 6 + 5 + 5 * 4 * 4 + 4 * 2 * 8


def test_mla_needs_all_head_parts() -> None:
    with pytest.raises(ValidationError, match="qk_rope_head_dim"):
        _tiny(n_kv_heads=4, kv_lora_rank=5, qk_nope_head_dim=2)
    with pytest.raises(ValidationError, match="kv_lora_rank"):
        _tiny(q_lora_rank=3)


def _moe(**overrides: Any) -> ModelArch:
    fields: dict[str, Any] = {"n_layers": 4, "n_experts": 4, "experts_top_k": 2}
    fields.update(overrides)
    return _tiny(**fields)


def test_shared_experts_dense_layers_and_router_bias() -> None:
    m = _moe(n_shared_experts=1, shared_expert_ffn_size=6, dense_ffn_size=32, first_k_dense_layers=1, router_bias=True)
    attn, norms = m.params_attention_per_layer, m.params_norms_per_layer
    expert, shared, dense_mlp = 3 * 8 * 16, 3 * 8 * 6, 3 * 8 * 32
    router = 8 * 4 + 4
    assert (m.n_moe_layers, m.n_dense_layers) == (3, 1)
    assert [m.layer_is_moe(i) for i in range(4)] == [False, True, True, True]
    assert m.params_moe_layer == attn + norms + 4 * expert + shared + router
    assert m.params_moe_layer_active == attn + norms + 2 * expert + shared + router
    assert m.params_dense_layer == attn + norms + dense_mlp
    assert m.params_layers == 3 * m.params_moe_layer + m.params_dense_layer
    assert m.params_total - m.params_active == 3 * 2 * expert
    assert m.params_per_layer_active * 4 == m.params_layers_active


def test_shared_expert_gate() -> None:
    gated, plain = _moe(n_shared_experts=1, shared_expert_gate=True), _moe(n_shared_experts=1)
    assert gated.params_shared_experts_per_layer - plain.params_shared_experts_per_layer == 8


def test_moe_interleave_every_second_layer() -> None:
    m = _moe(moe_layer_interval=2)
    assert [m.layer_is_moe(i) for i in range(4)] == [False, True, False, True]
    with pytest.raises(ValidationError, match="no layer is MoE"):
        _moe(moe_layer_interval=8)


def test_moe_only_fields_need_experts() -> None:
    with pytest.raises(ValidationError, match="mixture-of-experts"):
        _tiny(n_shared_experts=1)


def test_mtp_modules_are_counted_apart() -> None:
    m = _moe(mtp_layers=2)
    assert m.params_total == _moe().params_total
    assert m.params_mtp == 2 * (m.params_moe_layer + 3 * 8 + 2 * 8 * 8)
    assert m.params_checkpoint == m.params_total + m.params_mtp


def test_sinks_and_qk_norms() -> None:
    base = _tiny().params_attention_per_layer
    assert _tiny(attention_sinks=True).params_attention_per_layer == base + 4
    assert _tiny(qk_norm="head").params_attention_per_layer == base + 2 * 2
    assert _tiny(qk_norm="layer").params_attention_per_layer == base + (4 + 2) * 2


def test_sliding_window_caps_the_cache() -> None:
    m = _tiny(n_layers=4, attention_pattern=("sliding", "full"), sliding_window=8)
    per_layer = 2 * 2 * 2 * 2  # K and V, 2 KV heads of 2, bf16
    assert m.layer_attention_counts() == {"full": 2, "sliding": 2, "chunked": 0, "linear": 0}
    assert m.kv_cache_bytes_per_token(2) == 4 * per_layer  # no context: nothing capped
    assert m.kv_cache_bytes_per_token(2, context_len=8) == 4 * per_layer
    assert m.kv_cache_bytes(32, 2) == 2 * per_layer * 32 + 2 * per_layer * 8
    assert m.kv_cache_bytes_per_token(1, 32) == m.kv_cache_bytes_per_token(2, 32) / 2  # FP8 halves bf16


def test_sliding_and_chunked_attention_flops() -> None:
    sliding = _tiny(n_layers=1, attention_pattern=("sliding",), sliding_window=8)
    chunked = _tiny(n_layers=1, attention_pattern=("chunked",), attention_chunk_size=8)
    full = _tiny(n_layers=1)
    per_key = 2 * 4 * (2 + 2)
    assert sliding.attention_flops_per_token_forward(4, causal=False) == full.attention_flops_per_token_forward(
        4, False
    )
    assert sliding.attention_flops_per_token_forward(20, causal=False) == per_key * 8
    assert sliding.attention_flops_per_token_forward(32, causal=True) == per_key * (8 - 64 / 64)
    assert chunked.attention_flops_per_token_forward(20, causal=False) == per_key * 4  # 20 = 2·8 + 4
    assert chunked.attention_flops_per_token_forward(20, causal=True) == per_key * (2 * 32 + 8) / 20
    assert chunked.attention_flops_per_token_forward(8, causal=True) == full.attention_flops_per_token_forward(8)


def test_pattern_needs_its_span() -> None:
    with pytest.raises(ValidationError, match="sliding_window"):
        _tiny(attention_pattern=("sliding", "full"))
    with pytest.raises(ValidationError, match="attention_chunk_size"):
        _tiny(attention_pattern=("chunked",))


def test_flops_per_token_is_matmuls_plus_attention() -> None:
    m = _moe(n_shared_experts=1)
    expected = 2.0 * (m.params_layers_active + 10 * 8) + m.attention_flops_per_token_forward(16)
    assert m.flops_per_token_forward(16) == expected


def test_published_active_conventions() -> None:
    m = _moe()
    assert m.params_active_as_published == m.params_active
    no_input = _moe(published_active_counts="without_input_embedding")
    assert no_input.params_active_as_published == m.params_active - 10 * 8
    neither = _moe(published_active_counts="without_embeddings")
    assert neither.params_active_as_published == m.params_active - 2 * 10 * 8


def test_deepseek_v3_kv_cache_and_layers() -> None:
    m = get_model("deepseek-v3")
    assert m.kv_cache_bytes_per_token(2) == 61 * (512 + 64) * 2
    assert m.kv_cache_bytes_per_token(1) == 61 * (512 + 64)  # FP8 cache
    assert (m.n_dense_layers, m.n_moe_layers) == (3, 58)


def test_gpt_oss_kv_cache_with_windows() -> None:
    m = get_model("gpt-oss-120b")
    full_layer = 2 * 8 * 64 * 2
    assert m.kv_cache_bytes_per_token(2) == 36 * full_layer
    assert m.kv_cache_bytes(8192, 2) == 18 * full_layer * 8192 + 18 * full_layer * 128


def test_linear_attention_layers() -> None:
    """MiniMax's lightning attention: its own weights, a fixed state instead of a KV cache, 4·a·d² per token."""
    m = _tiny(n_layers=4, attention_pattern=("linear", "full"))
    softmax = _tiny(n_layers=4)
    a_d = 4 * 2
    assert m.params_linear_attention_per_layer == 5 * 8 * a_d + a_d
    assert m.params_attention_layers == 2 * m.params_attention_per_layer + 2 * m.params_linear_attention_per_layer
    assert m.params_total - softmax.params_total == 2 * (
        m.params_linear_attention_per_layer - m.params_attention_per_layer
    )
    assert m.params_active == m.params_total  # dense
    assert m.linear_state_elements == 2 * 4 * 2 * 2
    full_layer = 2 * 2 * 2  # K and V of 2 KV heads of 2
    assert m.kv_cache_elements_per_token() == 2 * full_layer
    assert m.kv_cache_bytes(10, 2) == (10 * 2 * full_layer + m.linear_state_elements) * 2
    per_key = 2 * 4 * (2 + 2)
    assert m.attention_flops_per_token_forward(10, causal=False) == 2 * per_key * 10 + 2 * 4 * 4 * 2 * 2


def test_routed_expert_params_split_the_checkpoint_by_precision() -> None:
    m = _moe(first_k_dense_layers=1, n_shared_experts=1)
    assert m.params_routed_experts == 3 * 4 * m.params_mlp_per_expert
    assert _tiny().params_routed_experts == 0
    oss = get_model("gpt-oss-120b")
    # the gpt-oss model card's Table 1: 114.71B of MLP parameters (experts and router), stored in MXFP4
    assert abs(oss.params_routed_experts - 114.71e9) <= 0.01 * 114.71e9


# ----------------------------------------------------------------------------- Gated DeltaNet and gated attention
_GDN: dict[str, Any] = {
    "attention_pattern": ("linear", "linear", "linear", "full"),
    "linear_attention": "gated_deltanet",
    "linear_num_key_heads": 2,
    "linear_num_value_heads": 4,
    "linear_key_head_dim": 3,
    "linear_value_head_dim": 5,
    "linear_conv_kernel": 4,
}


def test_gated_deltanet_layer_by_hand() -> None:
    """Qwen3NextGatedDeltaNet's tensors, counted by hand for h = 8, 2 Q/K heads of 3, 4 V heads of 5, width 4."""
    m = _tiny(n_layers=4, **_GDN)
    k, v = 2 * 3, 4 * 5
    qkvz, ba, conv, out = 8 * (2 * k + 2 * v), 8 * 2 * 4, (2 * k + v) * 4, v * 8
    assert m.params_linear_attention_per_layer == qkvz + ba + conv + 2 * 4 + 5 + out
    assert m.layer_attention_counts()["linear"] == 3
    # the state: a 3 x 5 matrix per value head, plus the conv's last 3 inputs of Q, K and V, in each linear layer
    assert m.linear_state_elements == 3 * (4 * 3 * 5 + (2 * k + v) * 3)
    # the cache per token holds the one full layer's K and V only
    assert m.kv_cache_elements_per_token() == 2 * 2 * 2
    assert m.kv_cache_bytes(10, 2) == (10 * 2 * 2 * 2 + m.linear_state_elements) * 2
    # three d_k x d_v products per value head and token (read with k, rank-1 update, read with q)
    assert m.linear_flops_per_token_per_layer == 6 * 4 * 3 * 5
    per_key = 2 * 4 * (2 + 2)
    assert m.attention_flops_per_token_forward(10, causal=False) == per_key * 10 + 3 * 6 * 4 * 3 * 5


def test_attention_output_gate_widens_the_query_projection() -> None:
    plain, gated = _tiny(), _tiny(attention_output_gate=True)
    assert gated.params_attention_per_layer - plain.params_attention_per_layer == 8 * 4 * 2  # h x a·d
    assert gated.kv_cache_bytes_per_token(2) == plain.kv_cache_bytes_per_token(2)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({**_GDN, "linear_conv_kernel": 0}, "needs linear_conv_kernel"),
        ({**_GDN, "linear_num_value_heads": 3}, "multiple of linear_num_key_heads"),
        ({**_GDN, "attention_pattern": ()}, "needs 'linear' layers"),
        ({"attention_pattern": ("linear", "full"), "linear_num_key_heads": 2}, "apply to linear_attention"),
    ],
)
def test_gated_deltanet_needs_a_consistent_layout(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        _tiny(n_layers=4, **overrides)


def test_lightning_layers_keep_their_counts() -> None:
    """The layout field's default is MiniMax's lightning attention, so MiniMax-M1 counts as before."""
    m1 = get_model("minimax-m1")
    assert m1.linear_attention == "lightning"
    assert m1.linear_state_elements_per_layer == 64 * 128 * 128
    assert m1.linear_flops_per_token_per_layer == 4.0 * 64 * 128 * 128
