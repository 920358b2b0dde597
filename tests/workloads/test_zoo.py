"""Tests for the shipped zoo (counts against published figures), name lookup and config.json import."""

from __future__ import annotations

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
    # issue 12, round 4: models the shipped serving data and public serving benchmarks run
    "codellama-13b",
    "mistral-7b-v0.2",
    "qwen3.5-397b-a17b",
    "qwen3.5-122b-a10b",
    "qwen3.5-35b-a3b",
    "qwen3.5-27b",
    "kimi-k2.5",
    # issue 12, round 6: dense models public serving benchmarks run
    "qwen2.5-7b",
    "qwen2.5-14b",
    "qwen2.5-32b",
    "qwen2.5-72b",
    "llama-3.2-1b",
    "llama-3.2-3b",
    "mistral-small-24b-2501",
    "mistral-nemo-12b",
    "gemma-2-9b",
    "gemma-2-27b",
    "phi-4",
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


# ----------------------------------------------------------------------------- resolve_model
HF_CONFIGS = Path(__file__).parent / "hf_configs"


def test_resolve_model(tmp_path: Path) -> None:
    assert resolve_model("Llama-3-8B").name == "llama-3-8b"
    config = (HF_CONFIGS / "qwen3-8b.json").read_text(encoding="utf-8")
    path = tmp_path / "qwen.json"
    path.write_text(config, encoding="utf-8")
    assert resolve_model(str(path)).architecture() == get_model("qwen3-8b").architecture()
    assert resolve_model(path).n_kv_heads == 8
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(config, encoding="utf-8")
    assert resolve_model(str(folder)).family == "qwen3"
    with pytest.raises(ModelConfigError, match="no such file"):
        resolve_model(str(tmp_path / "missing.json"))
    with pytest.raises(UnknownNameError):
        resolve_model("not-a-model")


# ----------------------------------------------------------------------------- quantized repo ids
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


def test_precision_names_are_catalog_precisions() -> None:
    """Records' native precisions and every suffix's implied precision name a catalog Precision (workloads
    cannot import the catalog, so the names are checked here)."""
    from chipfleet.catalog import Precision
    from chipfleet.workloads.zoo import _QUANT_PRECISION

    named = {m.native_weight_precision for m in list_models()} | {
        m.native_expert_weight_precision for m in list_models()
    }
    for name in (named - {""}) | set(_QUANT_PRECISION.values()):
        assert Precision(name).value == name


# ----------------------------------------------------------------------------- issue 12: models serving benchmarks run
@pytest.mark.parametrize(
    ("repo_id", "name", "precision"),
    [
        # the records tpu-recipes and the Neuron benchmarks name
        ("Qwen/Qwen3.5-397B-A17B-FP8", "qwen3.5-397b-a17b", "fp8"),
        ("nvidia/Qwen3.5-397B-A17B-NVFP4", "qwen3.5-397b-a17b", "nvfp4"),
        ("Qwen/Qwen3.5-397B-A17B", "qwen3.5-397b-a17b", "bf16"),
        ("Qwen/Qwen3.5-35B-A3B-FP8", "qwen3.5-35b-a3b", "fp8"),
        ("Qwen/Qwen3.6-35B-A3B", "qwen3.5-35b-a3b", "bf16"),
        ("codellama/CodeLlama-13b-hf", "codellama-13b", "bf16"),
        ("codellama/CodeLlama-13b-Instruct-hf", "codellama-13b", "bf16"),
        ("codellama/CodeLlama-13b-Python-hf", "codellama-13b-python", "bf16"),
        ("mistralai/Mistral-7B-Instruct-v0.2", "mistral-7b-v0.2", "bf16"),
        # Kimi-K2.5 ships INT4 routed experts; NVIDIA's NVFP4 copy says so in its suffix
        ("moonshotai/Kimi-K2.5", "kimi-k2.5", "int4"),
        ("nvidia/Kimi-K2.5-NVFP4", "kimi-k2.5", "nvfp4"),
    ],
)
def test_todays_serving_models_resolve(repo_id: str, name: str, precision: str) -> None:
    assert get_model(repo_id).name == name
    assert implied_weight_precision(repo_id) == precision


def test_mistral_v0_2_drops_the_window_of_v0_1() -> None:
    """v0.2 has the tensors of v0.1 (same count) but no sliding window (config.json: sliding_window null)."""
    v1, v2 = get_model("mistral-7b"), get_model("mistral-7b-v0.2")
    assert v1.params_total == v2.params_total and v2.attention_pattern == ()
    assert v2.kv_cache_bytes_per_token(2, context_len=32768) == 2 * 32 * 8 * 128 * 2


def test_codellama_adds_the_infilling_rows_to_llama_2_13b() -> None:
    base, code, python = get_model("llama-2-13b"), get_model("codellama-13b"), get_model("codellama-13b-python")
    assert code.params_total - base.params_total == 2 * 16 * 5120  # 16 more rows in the embedding and the head
    assert python.params_total == base.params_total
    assert code.kv_cache_bytes_per_token(2) == base.kv_cache_bytes_per_token(2)


def test_qwen3_5_cache_is_its_full_attention_layers_only() -> None:
    """Qwen3.5-397B-A17B: 15 of 60 layers keep K and V (2 KV heads of 256); 45 Gated DeltaNet layers keep a
    64 x 128 x 128 state and 3 conv inputs of 2·16·128 + 64·128 channels per sequence, whatever its length."""
    m = get_model("qwen3.5-397b-a17b")
    assert m.layer_attention_counts() == {"full": 15, "sliding": 0, "chunked": 0, "linear": 45}
    assert m.kv_cache_bytes_per_token(2) == 15 * 2 * 2 * 256 * 2
    assert m.linear_state_elements == 45 * (64 * 128 * 128 + (2 * 16 * 128 + 64 * 128) * 3)
    # the state is paid once per sequence: the mean per token falls towards the full layers' share
    assert m.kv_cache_bytes_per_token(2, context_len=1000) > m.kv_cache_bytes_per_token(2, context_len=100_000)


def test_kimi_k2_5_is_kimi_k2_text_with_a_vision_tower_counted_apart() -> None:
    k2, k25 = get_model("kimi-k2"), get_model("kimi-k2.5")
    assert k25.params_total == k2.params_total and k25.kv_cache_bytes_per_token(2) == k2.kv_cache_bytes_per_token(2)
    assert k25.params_checkpoint == k25.params_total + k25.params_vision
    # NVIDIA's Kimi K2.5 page: 32.86B active
    assert abs(k25.params_active - 32.86e9) <= 0.01 * 32.86e9


@pytest.mark.parametrize(
    ("repo_id", "name"),
    [
        ("meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-70b"),  # an instruction tune: the base architecture
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama-3.1-70b"),  # Meta's older repo name
        ("RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8", "llama-3.1-8b"),
        ("amd/Llama-3.1-70B-Instruct-FP8-KV", "llama-3.1-70b"),  # FP8 weights and KV cache
        ("codellama/CodeLlama-13b-Instruct-hf", "codellama-13b"),
        ("google/gemma-3-27b-it", "gemma-3-27b"),
    ],
)
def test_tuned_and_renamed_checkpoints_resolve_to_their_base(repo_id: str, name: str) -> None:
    assert get_model(repo_id).name == name


def test_a_version_or_a_date_is_never_stripped() -> None:
    # Mistral 7B v0.2 is another architecture than v0.1 (no sliding window): its version must not be cut off
    assert get_model("mistralai/Mistral-7B-Instruct-v0.2").name == "mistral-7b-v0.2"
    assert get_model("mistralai/Mistral-7B-Instruct-v0.1").name != "mistral-7b-v0.2"
    assert get_model("deepseek-ai/DeepSeek-R1-0528").name == "deepseek-r1-0528"
    with pytest.raises(UnknownNameError):
        get_model("meta-llama/Llama-9.9-70B-Instruct")  # stripping a tune suffix finds no other model


# ----------------------------------------------------------------------------- issue 12, round 6: dense serving models
@pytest.mark.parametrize(
    ("repo_id", "name"),
    [
        # the ids serving benchmarks and NIM pages name: tuned checkpoints resolve to their base record
        ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"),
        ("Qwen/Qwen2.5-14B-Instruct", "qwen2.5-14b"),
        ("Qwen/Qwen2.5-32B-Instruct", "qwen2.5-32b"),
        ("Qwen/Qwen2.5-72B-Instruct", "qwen2.5-72b"),
        ("meta-llama/Llama-3.2-1B-Instruct", "llama-3.2-1b"),
        ("meta-llama/Llama-3.2-3B-Instruct", "llama-3.2-3b"),
        ("mistralai/Mistral-Small-24B-Instruct-2501", "mistral-small-24b-2501"),
        ("mistralai/Mistral-Nemo-Instruct-2407", "mistral-nemo-12b"),
        ("google/gemma-2-9b-it", "gemma-2-9b"),
        ("google/gemma-2-27b-it", "gemma-2-27b"),
        ("microsoft/phi-4", "phi-4"),
        ("nvidia/Llama-3.1-Nemotron-70B-Instruct-HF", "llama-3.1-70b"),
    ],
)
def test_dense_serving_models_resolve_with_their_counts(repo_id: str, name: str) -> None:
    """Each repo id resolves to its record, whose count is within 1 % of the figure its source publishes (or,
    for a nominal "24B" / "12B", within half its rounding unit, as test_params_total_matches_published allows)."""
    model = get_model(repo_id)
    assert model.name == name
    assert model.published_params is not None
    tolerance = max(0.01 * model.published_params, model.published_params_rounding / 2)
    assert abs(model.params_total - model.published_params) <= tolerance


# Model cards' "Number of Parameters (Non-Embedding)": the count without the input embedding and the untied head
QWEN2_5_NON_EMBEDDING = {"qwen2.5-7b": 6.53e9, "qwen2.5-14b": 13.1e9, "qwen2.5-32b": 31.0e9, "qwen2.5-72b": 70.0e9}


@pytest.mark.parametrize(("name", "published"), sorted(QWEN2_5_NON_EMBEDDING.items()))
def test_qwen2_5_non_embedding_counts(name: str, published: float) -> None:
    """Untied embeddings and Q/K/V biases: the non-embedding count is within 1 % of the card's as well."""
    m = get_model(name)
    assert not m.tied_embeddings and m.attention_bias
    assert abs(m.params_total - m.params_embedding - m.params_lm_head - published) <= 0.01 * published


def test_gemma_2_matches_its_report_and_imported_config() -> None:
    """Gemma 2 report Table 2's exact non-embedding counts; the 27B record is what the gemma2 importer makes of
    its config.json; half the layers keep only a 4096-token window in the KV cache."""
    assert get_model("gemma-2-9b").params_total - get_model("gemma-2-9b").params_embedding == 8_324_201_984
    g27 = get_model("gemma-2-27b")
    assert g27.params_total - g27.params_embedding == 26_047_480_320
    assert g27.tied_embeddings and g27.norms_per_layer == 4
    imported = resolve_model(HF_CONFIGS / "gemma-2-27b.json")
    assert imported.architecture() == g27.architecture()
    assert g27.layer_attention_counts() == {"full": 23, "sliding": 23, "chunked": 0, "linear": 0}
    per_layer = 2 * g27.n_kv_heads * g27.head_dim * 2  # K and V, 2 bytes
    assert g27.kv_cache_bytes_per_token(2, context_len=4096) == 46 * per_layer
    assert g27.kv_cache_bytes_per_token(2, context_len=8192) == 23 * per_layer * 1.5


def test_small_llama_3_2_tie_their_embeddings() -> None:
    """Llama 3.2 1B/3B share the input embedding with the head (model card: "Shared Embeddings: Yes")."""
    for name in ("llama-3.2-1b", "llama-3.2-3b"):
        m = get_model(name)
        assert m.tied_embeddings and m.params_lm_head == 0
    assert get_model("llama-3.2-1b").head_dim == 64  # 2048 / 32


def test_phi_4_and_nemotron_70b() -> None:
    """Phi-4's count equals its Hub safetensors total; Nemotron-70B's config.json has Llama 3.1 70B's shapes."""
    phi = get_model("phi-4")
    assert phi.params_total == 14_659_507_200
    assert (phi.n_heads, phi.n_kv_heads, phi.head_dim) == (40, 10, 128)
    nemotron = get_model("nvidia/Llama-3.1-Nemotron-70B-Instruct")
    shape = (nemotron.n_layers, nemotron.hidden_size, nemotron.n_heads, nemotron.n_kv_heads, nemotron.ffn_size)
    assert shape == (80, 8192, 64, 8, 28672) and nemotron.vocab_size == 128256
    assert nemotron.params_total == 70_553_706_496
