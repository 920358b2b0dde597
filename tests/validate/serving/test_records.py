"""Serving-benchmark records: InferenceX agg_bmk.json and vLLM --save-result, malformed records, the shipped runs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.validate.serving import load_records, looks_like_serving_records, parse_records, shipped_inferencex

INFERENCEX = {
    "hw": "h100",
    "conc": 64,
    "image": "vllm/vllm-openai:v0.11.2",
    "model": "openai/gpt-oss-120b",
    "framework": "vllm",
    "precision": "fp4",
    "spec_decoding": "none",
    "disagg": False,
    "isl": 8192,
    "osl": 1024,
    "tp": 4,
    "ep": 1,
    "dp_attention": "false",
    "mean_ttft": 0.61,
    "p99_ttft": 6.8,
    "mean_tpot": 0.0171,
    "output_tput_per_gpu": 888.2,
    "run_id": "20218553330",
}
VLLM = {
    "backend": "vllm",
    "model_id": "meta-llama/Llama-3.1-8B-Instruct",
    "completed": 100,
    "total_input_tokens": 102400,
    "total_output_tokens": 25600,
    "request_rate": "inf",
    "max_concurrency": 16,
    "mean_ttft_ms": 40.0,
    "mean_tpot_ms": 9.0,
    "output_throughput": 1500.0,
    "hw": "h100",
    "tp": 1,
}


def _write(tmp_path: Path, name: str, doc: Any, zipped: bool = False) -> Path:
    p = tmp_path / name
    raw = json.dumps(doc).encode()
    p.write_bytes(gzip.compress(raw) if zipped else raw)
    return p


def test_inferencex_record_reads_its_keys_and_lengths(tmp_path: Path) -> None:
    rs = load_records(_write(tmp_path, "agg_bmk.json", [INFERENCEX]))
    (rec,) = rs.records
    assert rs.format == "inferencex" and len(rs.sha256) == 64
    assert (rec.hw, rec.concurrency, rec.tp, rec.ep, rec.dp, rec.dp_attention) == ("h100", 64, 4, 1, 1, False)
    # InferenceX draws lengths uniformly in [0.8·L, L]: the means are 0.9·L.
    assert rec.input_tokens == pytest.approx(0.9 * 8192) and rec.output_tokens == pytest.approx(0.9 * 1024)
    assert dict(rec.results) == {"mean_ttft": 0.61, "p99_ttft": 6.8, "mean_tpot": 0.0171, "output_tput_per_gpu": 888.2}
    assert "20218553330" in rec.id and "h100" in rec.id and "64" in rec.id


def test_record_id_key_is_used_and_lengths_with_a_spread_are_means(tmp_path: Path) -> None:
    raw = {**INFERENCEX, "id": "neuron-001", "isl_std": 0.0, "osl_std": 3.0}
    del raw["image"]
    (rec,) = load_records(_write(tmp_path, "r.json", [raw])).records
    assert rec.id == "neuron-001"
    assert (rec.input_tokens, rec.output_tokens) == (8192, 1024)


def test_vllm_save_result_reads_milliseconds_and_means_from_totals(tmp_path: Path) -> None:
    rs = load_records(_write(tmp_path, "vllm.json.gz", VLLM, zipped=True))
    (rec,) = rs.records
    assert rs.format == "vllm"
    assert (rec.concurrency, rec.request_rate, rec.input_tokens, rec.output_tokens) == (16, None, 1024, 256)
    assert dict(rec.results)["mean_ttft_ms"] == 40.0


def test_json_lines_and_single_objects(tmp_path: Path) -> None:
    p = tmp_path / "runs.jsonl"
    p.write_text(json.dumps(INFERENCEX) + "\n" + json.dumps({**INFERENCEX, "conc": 8}) + "\n")
    assert [r.concurrency for r in load_records(p).records] == [64, 8]
    assert looks_like_serving_records(p) and not looks_like_serving_records(tmp_path / "calibration.csv")


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"conc": None}, "conc"),
        ({"isl": None}, "isl"),
        ({"tp": "four"}, "tp"),
        ({"mean_ttft": None, "p99_ttft": None, "mean_tpot": None, "output_tput_per_gpu": None}, "result key"),
    ],
)
def test_a_malformed_record_is_an_error_naming_it_or_skipped_and_counted(change: dict[str, Any], what: str) -> None:
    bad = {**INFERENCEX, **change}
    with pytest.raises(ConfigError) as err:
        parse_records([INFERENCEX, bad], "file.json")
    assert what in str(err.value) and "#1" in str(err.value) and err.value.field == "skip_bad_rows"
    rs = parse_records([INFERENCEX, bad], "file.json", skip_bad_rows=True)
    assert len(rs.records) == 1 and len(rs.bad) == 1 and what in rs.bad[0][1]


def test_unreadable_or_non_json_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_records(tmp_path / "missing.json")
    assert err.value.field == "path"
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        load_records(p)


def test_the_shipped_inferencex_runs() -> None:
    rs = shipped_inferencex()
    assert len(rs.records) == 1622 and not rs.bad
    assert len({r.id for r in rs.records}) == 1622
    assert sum(r.disagg for r in rs.records) == 429
    assert {r.hw for r in rs.records} >= {"h100", "h200", "b200", "gb200", "mi300x", "mi355x"}


def test_speculative_keys_are_read_and_an_acceptance_below_one_is_malformed() -> None:
    spec = {**INFERENCEX, "spec_decoding": "EAGLE3", "acceptance_length": 3.22, "num_speculative_tokens": 3,
            "draft_model": " RedHatAI/Llama-3.1-8B-Instruct-speculator.eagle3 "}  # fmt: skip
    (rec, plain) = parse_records([spec, INFERENCEX], "file.json").records
    assert (rec.spec_decoding, rec.acceptance_length, rec.draft_tokens) == ("eagle3", 3.22, 3)
    assert rec.draft_model == "RedHatAI/Llama-3.1-8B-Instruct-speculator.eagle3"
    assert (plain.acceptance_length, plain.draft_tokens, plain.draft_model) == (None, None, None)
    (alias,) = parse_records([{**INFERENCEX, "draft_tokens": 2}], "file.json").records
    assert alias.draft_tokens == 2
    with pytest.raises(ConfigError, match="acceptance_length"):
        parse_records([{**spec, "acceptance_length": 0.5}], "file.json")
