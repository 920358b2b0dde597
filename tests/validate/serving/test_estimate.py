"""estimate_closed_loop from names, and the commands that take --concurrency or serving records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chipfleet.catalog import Catalog, Precision
from chipfleet.cli import main
from chipfleet.validate.serving import estimate_closed_loop
from chipfleet.workloads import get_model

from .test_predict import DENSE


def test_estimate_closed_loop_queues_past_the_sequence_limit(cat: Catalog) -> None:
    model = get_model("llama-3.1-8b")
    kw = {"input_tokens": 1024, "output_tokens": 256, "max_seqs": 32}
    below = estimate_closed_loop(cat, model, "p5.4xlarge", clients=16, **kw)
    above = estimate_closed_loop(cat, model, "p5.4xlarge", clients=64, **kw)
    assert below.tp == 1 and below.kv_capacity_tokens > 0 and not below.result.saturated
    assert above.result.saturated and above.result.queue_wait_s > 0
    assert above.result.throughput_rps > below.result.throughput_rps


def test_estimate_serve_concurrency_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["estimate", "serve", "--instance", "p5.4xlarge", "--model", "llama-3.1-8b", "--concurrency", "8"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["result"]["clients"] == 8 and doc["result"]["throughput_rps"] > 0
    assert main(args) == 0
    assert "8 closed-loop clients" in capsys.readouterr().out


def test_simulate_serve_concurrency_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "serve", "--fleet", "p5.4xlarge:1", "--model", "llama-3.1-8b", "--trace", "azure-conv"]
    assert main([*args, "--requests", "200", "--concurrency", "8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["completed"] == 200


def test_validate_data_reads_serving_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([{**DENSE, "id": "a"}, {**DENSE, "id": "b", "disagg": True}, {"hw": "h100"}]))
    assert main(["validate", "--data", str(path), "--json"]) == 2  # the malformed third record: a clean error
    err = capsys.readouterr()
    assert "#2" in err.out + err.err and "--skip-bad-rows" in err.out + err.err
    assert main(["validate", "--data", str(path), "--skip-bad-rows", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in doc["results"]} == {"a"} and len(doc["bad"]) == 1
    assert any(s["id"] == "b" and "disaggregated" in s["skipped"] for s in doc["skipped"])


def _closed_loop_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["estimate", "serve", "--concurrency", "64", "--json", *args]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def test_estimate_serve_concurrency_decodes_speculatively(capsys: pytest.CaptureFixture[str]) -> None:
    """--acceptance-length/--draft-tokens and --mtp reach the closed-loop model: TPOT is the iteration over τ, so
    it falls and throughput rises; drafting that is never accepted (τ = 1) only costs."""
    args = ("--instance", "p5.4xlarge", "--model", "llama-3.1-8b")
    plain = _closed_loop_json(capsys, *args)
    spec = _closed_loop_json(capsys, *args, "--acceptance-length", "2.5", "--draft-tokens", "3")
    wasted = _closed_loop_json(capsys, *args, "--acceptance-length", "1", "--draft-tokens", "3")
    assert plain["spec"] is None and spec["spec"]["acceptance_length"] == 2.5 and spec["spec"]["draft_tokens"] == 3
    assert spec["result"]["tpot_mean_s"] < plain["result"]["tpot_mean_s"] < wasted["result"]["tpot_mean_s"]
    assert spec["result"]["throughput_rps"] > plain["result"]["throughput_rps"]
    r = spec["result"]
    assert r["tpot_mean_s"] > r["decode_iteration_s"] / 2.5  # iterations carrying prompts are longer
    big = ("--instance", "p5en.48xlarge", "--model", "deepseek-r1", "--precision", "fp8", "--tp", "8")
    mtp = _closed_loop_json(capsys, *big, "--mtp")
    assert mtp["spec"]["method"] == "mtp" and mtp["spec"]["acceptance_length"] == 1.875
    assert mtp["kv_capacity_tokens"] < _closed_loop_json(capsys, *big)["kv_capacity_tokens"]  # the MTP layer's room
    assert main(["estimate", "serve", *args, "--concurrency", "8", "--mtp"]) == 2  # nothing published for llama
    assert "--acceptance-length" in capsys.readouterr().err


def test_estimate_serve_concurrency_lays_out_expert_and_attention_data_parallelism(
    cat: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    """--ep/--dp-attention reach the closed-loop model: the replica's KV room is that layout's (the prediction of
    a record run so), and the iteration its roofline."""
    from chipfleet.perf.engines import DEFAULT_ENGINE
    from chipfleet.perf.hardware import hardware_for
    from chipfleet.perf.iteration import IterationModel

    big = ("--instance", "p5en.48xlarge", "--model", "deepseek-r1", "--precision", "fp8", "--tp", "8")
    tp_only = _closed_loop_json(capsys, *big)
    laid = _closed_loop_json(capsys, *big, "--ep", "8", "--dp-attention")
    assert (laid["ep"], laid["dp_attention"], tp_only["ep"], tp_only["dp_attention"]) == (8, True, 1, False)
    model, hw = get_model("deepseek-r1"), hardware_for(cat, "p5en.48xlarge")
    it = IterationModel(model, hw, 8, Precision.FP8, engine=DEFAULT_ENGINE, ep=8, dp_attention=True)
    assert laid["kv_capacity_tokens"] == it.kv_room_tokens(laid["max_batch_tokens"])
    assert laid["kv_capacity_tokens"] != tp_only["kv_capacity_tokens"]
    assert laid["result"]["tpot_mean_s"] != tp_only["result"]["tpot_mean_s"]
