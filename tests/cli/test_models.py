"""`chipfleet models list/show`: the MoE, MLA and attention-span fields and a repo id's implied precision."""

from __future__ import annotations

import json

import pytest

from chipfleet.cli import main
from chipfleet.workloads import get_model


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_show_json_has_the_derived_counts(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_run(capsys, "models", "show", "nvidia/DeepSeek-R1-0528-FP4-V2", "--json"))
    model = get_model("deepseek-r1-0528")
    assert data["name"] == model.name
    assert data["implied_weight_precision"] == "nvfp4"
    assert data["kv_lora_rank"] == 512 and data["first_k_dense_layers"] == 3
    assert data["n_moe_layers"] == model.n_moe_layers
    assert data["params_mtp"] == model.params_mtp > 0
    assert data["params_checkpoint"] == model.params_total + model.params_mtp
    assert data["kv_cache_bytes_per_token_bf16"] == model.kv_cache_bytes_per_token(2.0)


def test_show_gpt_oss_says_its_expert_precision(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_run(capsys, "models", "show", "openai/gpt-oss-120b", "--json"))
    assert data["native_expert_weight_precision"] == "mxfp4" and data["native_weight_precision"] == "bf16"
    assert data["attention_pattern"] == ["sliding", "full"] and data["sliding_window"] == 128


def test_list_json_has_every_model_with_active_counts(capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(_run(capsys, "models", "list", "--json"))
    by_name = {r["name"]: r for r in rows}
    assert by_name["qwen3-235b-a22b"]["params_active"] == get_model("qwen3-235b-a22b").params_active
    assert by_name["llama-3-70b"]["params_active"] == by_name["llama-3-70b"]["params_total"]
