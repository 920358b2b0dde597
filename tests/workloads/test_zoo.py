"""Tests for the shipped zoo (counts against published figures), name lookup and config.json import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chipfleet.exceptions import ModelConfigError, UnknownNameError
from chipfleet.workloads import (
    ModelArch,
    get_model,
    implied_weight_precision,
    list_models,
    load_hf_config,
    resolve_model,
)
from chipfleet.workloads.zoo import parse_zoo

REQUIRED = [
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "llama-3-8b",
    "llama-3-70b",
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "mistral-7b",
    "mixtral-8x7b",
    "gpt-3-175b",
    "gpt-j-6b",
    "opt-13b",
    "opt-30b",
    "opt-66b",
    "bloom-176b",
    "bert-large",
    # added for the calibration set (sources in each record's notes)
    "llama-3.3-70b",
    "gpt-3-23b",
    "gpt-3-46b",
    "opt-175b",
    "palm-540b",
    "nemotron-4-340b",
    "nemotron-8b",
    "maxtext-16b",
    "maxtext-32b",
    # issue 12: today's MoE, MLA and sliding-window models
    "deepseek-v3",
    "deepseek-r1",
    "deepseek-r1-0528",
    "kimi-k2",
    "gpt-oss-20b",
    "gpt-oss-120b",
    "qwen3-8b",
    "qwen3-32b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "llama-4-scout",
    "llama-4-maverick",
    "gemma-3-27b",
    "glm-4.5",
    "minimax-m2",
    "minimax-m1",
]


def test_zoo_has_required_models() -> None:
    names = [m.name for m in list_models()]
    assert set(REQUIRED) <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("model", list_models(), ids=lambda m: m.name)
def test_params_total_matches_published(model: ModelArch) -> None:
    """Computed total within 1 % of the source's count (each record's `source` and `notes` cite it).

    A nominal figure (GPT-3 "175.0B", OPT "13B", BERT "340M") is rounded by its source, so the tolerance
    is the larger of 1 % and half its rounding unit: OPT-13B's exact total is 12.85B (1.1 % under "13B")
    and BERT-Large's encoder is 335.1M (1.4 % under "340M"), both inside the rounding of the figure. A
    multimodal checkpoint's card counts its vision tower too (``params_published_basis``); MTP modules are
    not counted in either.
    """
    assert model.published_params is not None, f"{model.name} has no published_params"
    assert model.source.startswith("https://")
    tolerance = max(0.01 * model.published_params, model.published_params_rounding / 2)
    assert abs(model.params_published_basis - model.published_params) <= tolerance


@pytest.mark.parametrize("model", [m for m in list_models() if m.published_params_active], ids=lambda m: m.name)
def test_params_active_matches_published(model: ModelArch) -> None:
    """Computed active count, under the source's convention, within 1 % of it or its rounding unit.

    Cards round or truncate active counts ("3.3B" for Qwen3-30B-A3B's 3.353B), so the tolerance is the larger
    of 1 % and one rounding unit of the stated figure.
    """
    assert model.published_params_active is not None
    assert model.is_moe
    tolerance = max(0.01 * model.published_params_active, model.published_params_active_rounding)
    assert abs(model.params_active_as_published - model.published_params_active) <= tolerance


# Exact tensor totals of the published checkpoints (HF safetensors metadata; BLOOM model card).
EXACT = {
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "llama-3-70b": 70_553_706_496,
    "llama-3.1-8b": 8_030_261_248,
    "llama-3.1-70b": 70_553_706_496,
    "llama-3.1-405b": 405_853_388_800,
    "mistral-7b": 7_241_732_096,
    "mixtral-8x7b": 46_702_792_704,
    "bloom-176b": 176_247_271_424,
}


@pytest.mark.parametrize(("name", "expected"), sorted(EXACT.items()))
def test_exact_counts(name: str, expected: int) -> None:
    assert get_model(name).params_total == expected


# ----------------------------------------------------------------------------- lookup
@pytest.mark.parametrize(
    "alias",
    [
        "llama-3-70b",
        "LLAMA-3-70B",
        "llama3-70b",
        "llama_3_70b",
        "meta-llama/Meta-Llama-3-70B",
        " Llama-3-70B ",
    ],
)
def test_get_model_aliases(alias: str) -> None:
    assert get_model(alias).name == "llama-3-70b"


def test_get_model_hf_ids() -> None:
    assert get_model("meta-llama/Llama-2-7b-hf").name == "llama-2-7b"
    assert get_model("mistralai/Mixtral-8x7B-v0.1").name == "mixtral-8x7b"
    assert get_model("facebook/opt-66b").name == "opt-66b"
    assert get_model("Llama-3.1-405B").name == "llama-3.1-405b"
    assert get_model("llama3.1-8b").name == "llama-3.1-8b"


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        # model names as calibration.csv spells them (descriptive suffixes stripped)
        ("GPT3-175B", "gpt-3-175b"),
        ("GPT3-23B", "gpt-3-23b"),
        ("GPT3-46B", "gpt-3-46b"),
        ("LLAMA2-70B", "llama-2-70b"),
        ("Llama-2-70B-Chat", "llama-2-70b"),
        ("meta-llama/Llama-2-70b-chat-hf", "llama-2-70b"),
        ("LLAMA3-8B", "llama-3-8b"),
        ("Llama 3.1 405B", "llama-3.1-405b"),
        ("Llama-3.1-405B-Instruct", "llama-3.1-405b"),
        ("Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("Llama-3.3-70B-Instruct", "llama-3.3-70b"),
        ("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
        ("OPT-175B", "opt-175b"),
        ("PaLM 540B", "palm-540b"),
        ("Nemotron-340B", "nemotron-4-340b"),
        ("Nemotron-8B", "nemotron-8b"),
        ("MaxText-16B", "maxtext-16b"),
    ],
)
def test_calibration_spellings(spelling: str, name: str) -> None:
    assert get_model(spelling).name == name


def test_added_architectures() -> None:
    """Structural facts of the added records that their sources state (see each record's notes)."""
    palm = get_model("palm-540b")
    assert (palm.n_kv_heads, palm.head_dim, palm.n_heads * palm.head_dim) == (1, 256, 12288)  # MQA, d_head 256
    assert palm.gated_mlp and palm.parallel_attn_mlp and palm.tied_embeddings
    assert not (palm.attention_bias or palm.mlp_bias)
    nemo = get_model("nemotron-4-340b")
    assert not nemo.gated_mlp and not nemo.tied_embeddings  # squared-ReLU MLP, untied
    assert nemo.kv_cache_bytes_per_token(2) == 2 * 96 * 8 * 192 * 2
    assert get_model("nemotron-8b").n_kv_heads == 32  # num_query_groups null: multi-head
    assert get_model("gpt-3-23b").vocab_size == 51200  # GPT-2 BPE padded to 128 x TP 8
    assert get_model("gpt-3-46b").n_layers == 2 * get_model("gpt-3-23b").n_layers
    assert get_model("llama-3.3-70b").architecture() == get_model("llama-3.1-70b").architecture()
    opt = get_model("opt-175b")
    assert (opt.n_layers, opt.n_heads, opt.hidden_size, opt.ffn_size) == (96, 96, 12288, 4 * 12288)
    assert get_model("maxtext-16b").n_heads * get_model("maxtext-16b").head_dim == 8192


def test_unknown_model_suggests_close_name() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_model("lama-3-70b")
    assert "llama-3-70b" in info.value.suggestions
    assert "Did you mean" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_list_models_is_a_fresh_list() -> None:
    models = list_models()
    models.clear()
    assert list_models()


# ----------------------------------------------------------------------------- zoo file validation
def _zoo_doc(*records: dict[str, Any], version: int = 1) -> str:
    return yaml.safe_dump({"schema_version": version, "models": list(records)})


def _record(name: str = "m", **overrides: Any) -> dict[str, Any]:
    rec = get_model("llama-2-7b").model_dump()
    rec.update(name=name, aliases=[], **overrides)
    return rec


def test_parse_zoo_errors() -> None:
    assert list(parse_zoo(_zoo_doc(_record()), "z.yaml")) == ["m"]
    with pytest.raises(ModelConfigError, match=r"z\.yaml: schema_version is 2"):
        parse_zoo(_zoo_doc(_record(), version=2), "z.yaml")
    with pytest.raises(ModelConfigError, match="already used by 'm'"):
        parse_zoo(_zoo_doc(_record(), _record()), "z.yaml")
    with pytest.raises(ModelConfigError, match=r"model 'bad' is invalid: .*n_kv_heads"):
        parse_zoo(_zoo_doc(_record("bad", n_kv_heads=5)), "z.yaml")
    with pytest.raises(ModelConfigError, match=r"z\.yaml: not valid YAML at line \d+, column \d+") as bad:
        parse_zoo("models: [", "z.yaml")
    assert "\n" not in str(bad.value)  # one line, without PyYAML's source excerpt


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


# ----------------------------------------------------------------------------- resolve_model
def test_resolve_model(tmp_path: Path) -> None:
    assert resolve_model("Llama-3-8B").name == "llama-3-8b"
    path = _write(tmp_path, LLAMA_3_8B, name="llama.json")
    assert resolve_model(str(path)).architecture() == get_model("llama-3-8b").architecture()
    assert resolve_model(path).n_kv_heads == 8
    folder = tmp_path / "my-model"
    folder.mkdir()
    _write(folder, OPT_13B)
    assert resolve_model(str(folder)).family == "opt"
    with pytest.raises(ModelConfigError, match="no such file"):
        resolve_model(str(tmp_path / "missing.json"))
    with pytest.raises(UnknownNameError):
        resolve_model("not-a-model")


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


@pytest.mark.parametrize(
    ("repo_id", "name", "precision"),
    [
        ("nvidia/DeepSeek-R1-NVFP4", "deepseek-r1", "nvfp4"),
        ("nvidia/DeepSeek-R1-0528-FP4-V2", "deepseek-r1-0528", "nvfp4"),
        ("amd/DeepSeek-R1-0528-MXFP4-Preview", "deepseek-r1-0528", "mxfp4"),
        ("deepseek-ai/DeepSeek-R1-0528", "deepseek-r1-0528", "fp8"),
        ("Qwen/Qwen3-235B-A22B-FP8", "qwen3-235b-a22b", "fp8"),
        ("openai/gpt-oss-120b", "gpt-oss-120b", "mxfp4"),
        # model paths as InferenceX runs record them
        ("/mnt/lustre01/models/gpt-oss-120b", "gpt-oss-120b", "mxfp4"),
        ("/mnt/lustre01/models/deepseek-r1-0528-fp4-v2", "deepseek-r1-0528", "nvfp4"),
        ("/models/DeepSeek-R1", "deepseek-r1", "fp8"),
        # a quantized id not listed as an alias still resolves through its suffix
        ("someone/Qwen3-32B-AWQ", "qwen3-32b", "int4"),
        ("llama-3-70b", "llama-3-70b", None),
    ],
)
def test_repo_ids_resolve_with_their_precision(repo_id: str, name: str, precision: str | None) -> None:
    assert get_model(repo_id).name == name
    assert implied_weight_precision(repo_id) == precision


def test_unknown_quantized_id_is_still_a_miss() -> None:
    with pytest.raises(UnknownNameError):
        get_model("nvidia/NoSuchModel-FP4")


def test_hf_import_minimax_m1_from_attn_type_list_or_layer_types(tmp_path: Path) -> None:
    config = _fixture("minimax-m1-80k.json")
    from_list = load_hf_config(_write(tmp_path, config))
    names = ["full_attention" if k else "linear_attention" for k in config["attn_type_list"]]
    from_types = load_hf_config(_write(tmp_path, {**config, "attn_type_list": None, "layer_types": names}))
    assert from_list.attention_pattern == ("linear",) * 7 + ("full",)
    assert from_types.architecture() == from_list.architecture()
    with pytest.raises(ModelConfigError, match="attn_type_list"):
        load_hf_config(_write(tmp_path, {**config, "attn_type_list": [0, 1]}))


_NEW_STRUCTURE = (
    "n_shared_experts",
    "first_k_dense_layers",
    "kv_lora_rank",
    "attention_pattern",
    "attention_sinks",
    "mtp_layers",
    "params_vision",
    "router_bias",
)
_UNIFORM = [m for m in list_models() if not any(getattr(m, f) for f in _NEW_STRUCTURE) and m.qk_norm == "none"]


@pytest.mark.parametrize("model", _UNIFORM, ids=lambda m: m.name)
def test_uniform_models_keep_the_former_formulas(model: ModelArch) -> None:
    """Records with none of the new structure count exactly as the uniform-layer formulas of before did."""
    per_layer = (
        model.params_attention_per_layer
        + model.params_norms_per_layer
        + model.n_experts * model.params_mlp_per_expert
        + model.params_router_per_layer
    )
    outside = model.params_embedding + model.params_outside_layers + model.params_lm_head
    assert model.params_total == outside + model.n_layers * per_layer
    active = per_layer - (model.n_experts - model.experts_top_k) * model.params_mlp_per_expert
    assert model.params_active == outside + model.n_layers * active
    assert model.kv_cache_bytes_per_token(2) == 2.0 * model.n_layers * model.n_kv_heads * model.head_dim * 2
    assert model.kv_cache_bytes_per_token(2, context_len=100_000) == model.kv_cache_bytes_per_token(2)
    full = 4.0 * model.n_layers * 4096 * model.n_heads * model.head_dim
    assert model.attention_flops_per_token_forward(4096, causal=False) == full
    assert model.attention_flops_per_token_forward(4096) == full / 2


def test_the_former_zoo_is_all_uniform() -> None:
    """Every record that predates issue 12 is among those checked against the former formulas."""
    former = set(REQUIRED[: REQUIRED.index("deepseek-v3")])
    assert former <= {m.name for m in _UNIFORM}
