"""Tests for the Hugging Face config.json importer: round trips against the zoo, today's architectures, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chipfleet.exceptions import ModelConfigError
from chipfleet.workloads import get_model, load_hf_config

# ----------------------------------------------------------------------------- Hugging Face import
# Published config.json contents (as on the Hugging Face Hub), written to tmp files by the tests.
LLAMA_3_8B = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 8192,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.40.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}
MIXTRAL_8X7B = {
    "architectures": ["MixtralForCausalLM"],
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mixtral",
    "num_attention_heads": 32,
    "num_experts_per_tok": 2,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "vocab_size": 32000,
}
OPT_13B = {
    "_name_or_path": "facebook/opt-13b",
    "_remove_final_layer_norm": False,
    "activation_function": "relu",
    "architectures": ["OPTForCausalLM"],
    "do_layer_norm_before": True,
    "ffn_dim": 20480,
    "hidden_size": 5120,
    "max_position_embeddings": 2048,
    "model_type": "opt",
    "num_attention_heads": 40,
    "num_hidden_layers": 40,
    "torch_dtype": "float16",
    "vocab_size": 50272,
    "word_embed_proj_dim": 5120,
}
BLOOM_176B = {
    "architectures": ["BloomForCausalLM"],
    "apply_residual_connection_post_layernorm": False,
    "model_type": "bloom",
    "n_embed": 14336,
    "n_layer": 70,
    "num_attention_heads": 112,
    "pretraining_tp": 4,
    "vocab_size": 250880,
}
GPT_J_6B = {
    "activation_function": "gelu_new",
    "architectures": ["GPTJForCausalLM"],
    "model_type": "gptj",
    "n_embd": 4096,
    "n_head": 16,
    "n_inner": None,
    "n_layer": 28,
    "n_positions": 2048,
    "rotary": True,
    "rotary_dim": 64,
    "tie_word_embeddings": False,
    "vocab_size": 50400,
}
BERT_LARGE = {
    "architectures": ["BertForMaskedLM"],
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "vocab_size": 30522,
}
# GPT-3 175B written as a GPT-2-architecture config (GPT-3 paper Table 2.1 shapes).
GPT_3_AS_GPT2 = {
    "model_type": "gpt2",
    "n_layer": 96,
    "n_embd": 12288,
    "n_head": 96,
    "n_inner": None,
    "n_positions": 2048,
    "vocab_size": 50257,
}


def _write(tmp_path: Path, config: dict[str, Any] | str, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("zoo_name", "config"),
    [
        ("llama-3-8b", LLAMA_3_8B),
        ("mixtral-8x7b", MIXTRAL_8X7B),
        ("opt-13b", OPT_13B),
        ("bloom-176b", BLOOM_176B),
        ("gpt-j-6b", GPT_J_6B),
        ("bert-large", BERT_LARGE),
        ("gpt-3-175b", GPT_3_AS_GPT2),
    ],
)
def test_hf_import_round_trip(tmp_path: Path, zoo_name: str, config: dict[str, Any]) -> None:
    imported = load_hf_config(_write(tmp_path, config))
    zoo = get_model(zoo_name)
    assert imported.architecture() == zoo.architecture()
    assert imported.params_total == zoo.params_total
    assert imported.params_active == zoo.params_active
    assert imported.published_params is None


def test_hf_import_names_and_provenance(tmp_path: Path) -> None:
    path = _write(tmp_path, OPT_13B)
    m = load_hf_config(path)
    assert m.name == "opt-13b"  # from _name_or_path
    assert m.source == str(path)
    assert load_hf_config(path, name="My OPT").name == "my-opt"
    assert load_hf_config(_write(tmp_path, LLAMA_3_8B)).name == "hf-llama"
    assert load_hf_config(tmp_path).name == "hf-llama"  # a folder holding config.json


@pytest.mark.parametrize(
    ("config", "expected_total"),
    [
        # Qwen2.5-0.5B: tied embeddings, Q/K/V biases without an output bias.
        (
            {
                "model_type": "qwen2",
                "hidden_size": 896,
                "intermediate_size": 4864,
                "max_position_embeddings": 32768,
                "num_attention_heads": 14,
                "num_hidden_layers": 24,
                "num_key_value_heads": 2,
                "tie_word_embeddings": True,
                "vocab_size": 151936,
            },
            494_032_768,
        ),
        # Pythia-70M (GPT-NeoX): 70,426,624 total parameters (EleutherAI/pythia README).
        (
            {
                "model_type": "gpt_neox",
                "hidden_size": 512,
                "intermediate_size": 2048,
                "max_position_embeddings": 2048,
                "num_attention_heads": 8,
                "num_hidden_layers": 6,
                "tie_word_embeddings": False,
                "use_parallel_residual": True,
                "vocab_size": 50304,
            },
            70_426_624,
        ),
        # GPT-2 (124M): 124,439,808 parameters.
        (
            {
                "model_type": "gpt2",
                "n_ctx": 1024,
                "n_embd": 768,
                "n_head": 12,
                "n_layer": 12,
                "n_positions": 1024,
                "vocab_size": 50257,
            },
            124_439_808,
        ),
    ],
)
def test_hf_import_other_families(tmp_path: Path, config: dict[str, Any], expected_total: int) -> None:
    assert load_hf_config(_write(tmp_path, config)).params_total == expected_total


# ----------------------------------------------------------------------------- import errors
def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config.json"
    with pytest.raises(ModelConfigError, match="no such file") as info:
        load_hf_config(missing)
    assert str(missing) in str(info.value)
    assert "huggingface.co" in str(info.value)


def test_bad_json(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"model_type": "llama",\n "hidden_size": 4096,,}')
    with pytest.raises(ModelConfigError, match=r"not valid JSON .*line 2") as info:
        load_hf_config(path)
    assert str(path) in str(info.value)


def test_json_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="expected a JSON object"):
        load_hf_config(_write(tmp_path, "[1, 2]"))


def test_unsupported_model_type(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_3_8B, "model_type": "lama"})
    with pytest.raises(ModelConfigError, match="model_type 'lama' is not supported") as info:
        load_hf_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "Did you mean llama" in message
    assert "Supported:" in message and "mixtral" in message


def test_missing_model_type(tmp_path: Path) -> None:
    config = {k: v for k, v in LLAMA_3_8B.items() if k != "model_type"}
    with pytest.raises(ModelConfigError, match="missing key 'model_type'"):
        load_hf_config(_write(tmp_path, config))


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (LLAMA_3_8B, "num_hidden_layers"),
        (LLAMA_3_8B, "intermediate_size"),
        (MIXTRAL_8X7B, "num_local_experts"),
        (MIXTRAL_8X7B, "num_key_value_heads"),
        (OPT_13B, "ffn_dim"),
        (GPT_J_6B, "n_layer"),
    ],
)
def test_missing_key(tmp_path: Path, config: dict[str, Any], key: str) -> None:
    path = _write(tmp_path, {k: v for k, v in config.items() if k != key})
    with pytest.raises(ModelConfigError, match=f"missing key '{key}'") as info:
        load_hf_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "Add it to the file" in message


def test_llama_without_kv_heads_is_multi_head(tmp_path: Path) -> None:
    config = {k: v for k, v in LLAMA_3_8B.items() if k != "num_key_value_heads"}
    assert load_hf_config(_write(tmp_path, config)).n_kv_heads == 32


def test_wrong_value_type(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="'hidden_size' is '4096'; expected a whole number"):
        load_hf_config(_write(tmp_path, {**LLAMA_3_8B, "hidden_size": "4096"}))


def test_inconsistent_values(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match=r"invalid llama architecture: .*multiple of n_kv_heads"):
        load_hf_config(_write(tmp_path, {**LLAMA_3_8B, "num_key_value_heads": 5}))


def test_opt_with_embedding_projection_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="word_embed_proj_dim"):
        load_hf_config(_write(tmp_path, {**OPT_13B, "word_embed_proj_dim": 512}))


def test_hf_import_with_absurd_layers_is_a_model_config_error(tmp_path: Path) -> None:
    """A config.json with 1e9 layers is rejected at import with the ceiling, not searched for an hour."""
    from chipfleet.exceptions import ModelConfigError

    with pytest.raises(ModelConfigError, match="n_layers = 1000000000 is above chipfleet's ceiling"):
        load_hf_config(_write(tmp_path, {**LLAMA_3_8B, "num_hidden_layers": 10**9}))


# ----------------------------------------------------------------------------- issue 12: today's architectures
HF_CONFIGS = Path(__file__).parent / "hf_configs"


def _fixture(name: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((HF_CONFIGS / name).read_text(encoding="utf-8"))
    assert config["_source_url"].startswith("https://huggingface.co/")
    return config


@pytest.mark.parametrize(
    ("fixture", "zoo_name"),
    [
        ("deepseek-v3.json", "deepseek-v3"),
        ("deepseek-v3.json", "deepseek-r1-0528"),
        ("kimi-k2-instruct.json", "kimi-k2"),
        ("gpt-oss-120b.json", "gpt-oss-120b"),
        ("gpt-oss-20b.json", "gpt-oss-20b"),
        ("qwen3-8b.json", "qwen3-8b"),
        ("qwen3-32b.json", "qwen3-32b"),
        ("qwen3-30b-a3b.json", "qwen3-30b-a3b"),
        ("qwen3-235b-a22b.json", "qwen3-235b-a22b"),
        ("llama-4-scout-17b-16e.json", "llama-4-scout"),
        ("llama-4-maverick-17b-128e.json", "llama-4-maverick"),
        ("gemma-3-27b-it.json", "gemma-3-27b"),
        ("glm-4.5.json", "glm-4.5"),
        ("glm-4.5-air.json", "glm-4.5-air"),
        ("minimax-m2.json", "minimax-m2"),
        ("minimax-m1-80k.json", "minimax-m1"),
    ],
)
def test_hf_import_matches_zoo(tmp_path: Path, fixture: str, zoo_name: str) -> None:
    """The published config.json (copies under hf_configs/) imports to the zoo record's architecture."""
    imported = load_hf_config(_write(tmp_path, _fixture(fixture)))
    zoo = get_model(zoo_name)
    assert imported.architecture() == zoo.architecture()
    assert (imported.params_total, imported.params_active) == (zoo.params_total, zoo.params_active)


@pytest.mark.parametrize(
    ("fixture", "total", "active", "rounding"),
    [
        # Qwen1.5-MoE-A2.7B's card: 14.3B total, 2.7B activated (shared expert with its sigmoid gate)
        ("qwen1.5-moe-a2.7b.json", 14.3e9, 2.7e9, 0.1e9),
        # Gemma 2 27B: 27.2B on its Hub page (alternating 4096-token sliding window and global layers)
        ("gemma-2-27b.json", 27.2e9, 27.2e9, 0.1e9),
    ],
)
def test_hf_import_of_other_new_types(
    tmp_path: Path, fixture: str, total: float, active: float, rounding: float
) -> None:
    m = load_hf_config(_write(tmp_path, _fixture(fixture)))
    assert abs(m.params_total - total) <= max(0.01 * total, rounding / 2)
    assert abs(m.params_active - active) <= max(0.01 * active, rounding / 2)


def test_hf_import_structure_of_deepseek_and_gpt_oss(tmp_path: Path) -> None:
    ds = load_hf_config(_write(tmp_path, _fixture("deepseek-v3.json")))
    assert ds.is_mla and ds.head_dim == 128 + 64 and ds.n_moe_layers == 61 - 3 and ds.mtp_layers == 1
    assert ds.native_weight_precision == ""  # an imported config says nothing of the record's provenance
    oss = load_hf_config(_write(tmp_path, _fixture("gpt-oss-120b.json")))
    assert oss.attention_pattern == ("sliding", "full") and oss.sliding_window == 128 and oss.attention_sinks
    assert (oss.native_weight_precision, oss.native_expert_weight_precision) == ("bf16", "mxfp4")
    scout = load_hf_config(_write(tmp_path, _fixture("llama-4-scout-17b-16e.json")))
    assert scout.attention_pattern == ("chunked", "chunked", "chunked", "full")
    maverick = load_hf_config(_write(tmp_path, _fixture("llama-4-maverick-17b-128e.json")))
    assert maverick.n_moe_layers == 24 and not maverick.layer_is_moe(0) and maverick.layer_is_moe(1)


def test_hf_import_kimi_uses_deepseek_layout(tmp_path: Path) -> None:
    kimi = load_hf_config(_write(tmp_path, _fixture("kimi-k2-instruct.json")))
    as_v3 = load_hf_config(_write(tmp_path, {**_fixture("kimi-k2-instruct.json"), "model_type": "deepseek_v3"}))
    assert kimi.family == "kimi" and as_v3.family == "deepseek"
    assert kimi.params_total == as_v3.params_total


def test_hf_import_gemma3_text_config_flat_or_nested(tmp_path: Path) -> None:
    nested = load_hf_config(_write(tmp_path, _fixture("gemma-3-27b-it.json")))
    flat = load_hf_config(_write(tmp_path, _fixture("gemma-3-27b-it.json")["text_config"]))
    assert nested.architecture() == flat.architecture()
    assert nested.vocab_size == 262208  # Gemma3TextConfig's default: the published text_config omits it


def test_hf_import_layer_types_must_cover_every_layer(tmp_path: Path) -> None:
    config = {**_fixture("gpt-oss-20b.json"), "layer_types": ["sliding_attention", "full_attention"]}
    with pytest.raises(ModelConfigError, match="layer_types"):
        load_hf_config(_write(tmp_path, config))


def test_unsupported_model_type_lists_the_new_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError) as info:
        load_hf_config(_write(tmp_path, {**LLAMA_3_8B, "model_type": "falcon_h1"}))
    message = str(info.value)
    for supported in ("deepseek_v3", "gpt_oss", "llama4", "gemma3", "glm4_moe", "minimax_m2", "minimax", "qwen3_moe"):
        assert supported in message


def test_hf_import_minimax_m1_from_attn_type_list_or_layer_types(tmp_path: Path) -> None:
    config = _fixture("minimax-m1-80k.json")
    from_list = load_hf_config(_write(tmp_path, config))
    names = ["full_attention" if k else "linear_attention" for k in config["attn_type_list"]]
    from_types = load_hf_config(_write(tmp_path, {**config, "attn_type_list": None, "layer_types": names}))
    assert from_list.attention_pattern == ("linear",) * 7 + ("full",)
    assert from_types.architecture() == from_list.architecture()
    with pytest.raises(ModelConfigError, match="attn_type_list"):
        load_hf_config(_write(tmp_path, {**config, "attn_type_list": [0, 1]}))


def test_hf_import_deepseek_v2_lite_without_query_latent(tmp_path: Path) -> None:
    """DeepSeek-V2-Lite (q_lora_rank null, greedy routing): its card's 15.7B total and 2.4B activated, the
    activated count without the input embedding as DeepSeek states it (2.45B, which the card truncates to a
    tenth, so within one rounding unit as test_zoo's active check allows)."""
    m = load_hf_config(_write(tmp_path, _fixture("deepseek-v2-lite.json")))
    assert m.q_lora_rank == 0 and not m.router_bias and m.n_shared_experts == 2
    assert abs(m.params_total - 15.7e9) <= 0.05e9
    assert abs(m.params_active_without_embedding - 2.4e9) <= 0.1e9


# ----------------------------------------------------------------------------- Qwen3-Next / Qwen3.5 and Kimi-K2.5
# Text configs as the checkpoints publish them (keys that shape the weights; values as the zoo records' sources
# quote them, read on 2026-12-06), wrapped like the multimodal config.json files (a vision_config beside them).
QWEN3_5_397B_TEXT: dict[str, Any] = {
    "model_type": "qwen3_5_moe_text",
    "hidden_size": 4096,
    "num_hidden_layers": 60,
    "num_attention_heads": 32,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "attn_output_gate": True,
    "full_attention_interval": 4,
    "layer_types": ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(60)],
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 64,
    "linear_value_head_dim": 128,
    "moe_intermediate_size": 1024,
    "shared_expert_intermediate_size": 1024,
    "num_experts": 512,
    "num_experts_per_tok": 10,
    "mtp_num_hidden_layers": 1,
    "vocab_size": 248320,
    "max_position_embeddings": 262144,
    "tie_word_embeddings": False,
}
QWEN3_5_27B_TEXT: dict[str, Any] = {
    "model_type": "qwen3_5_text",
    "hidden_size": 5120,
    "intermediate_size": 17408,
    "num_hidden_layers": 64,
    "num_attention_heads": 24,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "attn_output_gate": True,
    "full_attention_interval": 4,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 48,
    "linear_value_head_dim": 128,
    "mtp_num_hidden_layers": 1,
    "vocab_size": 248320,
    "max_position_embeddings": 262144,
}
# Qwen3-Next-80B-A3B-Instruct's config.json (flat, text only); its card: "80B in total and 3B activated",
# hybrid layout 12 x (3 x (Gated DeltaNet -> MoE) -> 1 x (Gated Attention -> MoE)), 512 experts, 10 + 1 shared.
QWEN3_NEXT_80B: dict[str, Any] = {
    "model_type": "qwen3_next",
    "hidden_size": 2048,
    "intermediate_size": 5120,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "full_attention_interval": 4,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "linear_value_head_dim": 128,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts": 512,
    "num_experts_per_tok": 10,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
    "vocab_size": 151936,
    "max_position_embeddings": 262144,
    "tie_word_embeddings": False,
}


def _multimodal(model_type: str, text: dict[str, Any], **outer: Any) -> dict[str, Any]:
    return {"model_type": model_type, "text_config": text, "vision_config": {"depth": 27, "hidden_size": 1152}, **outer}


def test_hf_import_qwen3_5_moe_matches_the_zoo(tmp_path: Path) -> None:
    imported = load_hf_config(_write(tmp_path, _multimodal("qwen3_5_moe", QWEN3_5_397B_TEXT)))
    zoo = get_model("qwen3.5-397b-a17b")
    assert imported.architecture() == zoo.architecture()
    assert imported.family == "qwen3_5_moe" and imported.linear_attention == "gated_deltanet"
    # the flat text config, and full_attention_interval without layer_types, give the same architecture
    flat = {k: v for k, v in QWEN3_5_397B_TEXT.items() if k != "layer_types"}
    assert load_hf_config(_write(tmp_path, flat)).architecture() == zoo.architecture()


def test_hf_import_qwen3_5_dense_reads_the_outer_tie(tmp_path: Path) -> None:
    untied = load_hf_config(_write(tmp_path, _multimodal("qwen3_5", QWEN3_5_27B_TEXT, tie_word_embeddings=False)))
    assert untied.architecture() == get_model("qwen3.5-27b").architecture()
    tied = load_hf_config(_write(tmp_path, _multimodal("qwen3_5", QWEN3_5_27B_TEXT, tie_word_embeddings=True)))
    assert untied.params_total - tied.params_total == 248320 * 5120
    assert not untied.is_moe and untied.mtp_layers == 1


def test_hf_import_qwen3_next_against_its_card(tmp_path: Path) -> None:
    m = load_hf_config(_write(tmp_path, QWEN3_NEXT_80B))
    assert m.family == "qwen3_next" and m.attention_output_gate and m.qk_norm == "head"
    assert m.layer_attention_counts()["linear"] == 36
    assert abs(m.params_total - 80e9) <= 0.01 * 80e9
    # "3B activated": Qwen truncates its active figures (test_zoo allows one rounding unit, as here)
    assert 3e9 <= m.params_active < 4e9
    with pytest.raises(ModelConfigError, match="mlp_only_layers"):
        load_hf_config(_write(tmp_path, {**QWEN3_NEXT_80B, "mlp_only_layers": [0]}))


def test_hf_import_kimi_k2_5_reads_its_text_config(tmp_path: Path) -> None:
    text = {**_fixture("kimi-k2-instruct.json"), "max_position_embeddings": 262144}
    m = load_hf_config(_write(tmp_path, _multimodal("kimi_k25", text)))
    assert m.family == "kimi"
    assert m.architecture() == get_model("kimi-k2.5").architecture()
