"""estimate_closed_loop from names, and the commands that take --concurrency or serving records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipfleet.catalog import Catalog
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
