"""The shipped serving-under-load records: required keys, units in physical bounds, provenance, unique ids."""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources
from typing import Any

import pytest

SERVING_DIR = resources.files("chipfleet.validate") / "data" / "serving"

REQUIRED = (
    "id",
    "source",
    "table",
    "as_of",
    "read_on",
    "conversions",
    "hw",
    "chips",
    "model",
    "framework",
    "precision",
    "spec_decoding",
    "disagg",
    "isl",
    "osl",
    "tp",
    "ep",
    "dp_attention",
    "conc",
)
HARDWARE = {"inf2", "trn1", "trn2", "tpu-v5e", "tpu-v6e", "tpu-v7", "h100", "h200", "a100"}
FRAMEWORKS = {"transformers-neuronx", "nxdi", "vllm", "sglang", "trtllm", "jetstream"}
PRECISIONS = {"bf16", "fp16", "fp8", "fp4", "int8", "int4"}
SPEC_DECODING = {"none", "draft", "eagle3", "mtp"}
STATS = ("mean", "median", "p99")
# Seconds. A first token can wait behind a long queue, but not for an hour; a decode step of a served LLM takes
# longer than 0.5 ms and (at any percentile of a healthy run) less than 5 s: a value in ms left unconverted fails.
TTFT_BOUNDS_S = (1e-3, 600.0)
STEP_BOUNDS_S = (5e-4, 5.0)
E2EL_BOUNDS_S = (1e-2, 3600.0)
# Tokens/s per chip: positive, and below what any current accelerator decodes.
TPUT_MAX = 1e5
# Medians and P50s stand in for means in some records; allow this much over the Little's-law bound.
LITTLE_SLACK = 1.25


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite JSON constant {name}")


def _files() -> list[Any]:
    return sorted((f for f in SERVING_DIR.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)


def _records() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for f in _files():
        data = json.loads(f.read_text(encoding="utf-8"), parse_constant=_reject_constant)
        assert isinstance(data, list) and data, f.name
        out.extend((f.name, rec) for rec in data)
    return out


RECORDS = _records()
RESULT_KEYS = [f"{stat}_{metric}" for metric in ("ttft", "tpot", "itl", "e2el") for stat in STATS] + [
    "output_tput_per_gpu",
    "tput_per_gpu",
]


def _ids() -> list[str]:
    return [f"{name}:{rec.get('id')}" for name, rec in RECORDS]


def test_every_file_is_documented_in_the_readme() -> None:
    readme = (SERVING_DIR / "README.md").read_text(encoding="utf-8")
    names = [f.name for f in _files()]
    assert names
    for name in names:
        assert f"`{name}`" in readme, name


def test_ids_are_unique_across_files() -> None:
    ids = [rec["id"] for _, rec in RECORDS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("name", "rec"), RECORDS, ids=_ids())
def test_record_has_required_keys_and_provenance(name: str, rec: dict[str, Any]) -> None:
    missing = [key for key in REQUIRED if key not in rec]
    assert not missing, missing
    assert str(rec["source"]).startswith("https://")
    assert rec["table"].strip()
    as_of = dt.date.fromisoformat(rec["as_of"])
    read_on = dt.date.fromisoformat(rec["read_on"])
    assert dt.date(2023, 1, 1) <= as_of <= read_on
    assert rec["hw"] in HARDWARE
    assert rec["framework"] in FRAMEWORKS
    assert rec["precision"] in PRECISIONS
    assert rec["spec_decoding"] in SPEC_DECODING
    assert rec["disagg"] is False
    assert "/" in rec["model"]  # a Hugging Face id


@pytest.mark.parametrize(("name", "rec"), RECORDS, ids=_ids())
def test_record_shape_is_consistent(name: str, rec: dict[str, Any]) -> None:
    assert rec["isl"] > 0 and rec["osl"] > 0
    assert isinstance(rec["conc"], int) and rec["conc"] >= 1
    assert isinstance(rec["chips"], int) and rec["chips"] >= 1
    assert isinstance(rec["tp"], int) and rec["tp"] >= 1
    dp = rec.get("dp", 1)
    assert rec["chips"] == rec["tp"] * dp  # one model copy per tp chips, dp copies
    assert rec["chips"] % rec["ep"] == 0
    if "max_num_seqs" in rec:
        assert rec["max_num_seqs"] >= 1
    if "num_prompts" in rec:
        assert rec["num_prompts"] >= rec["conc"] or rec.get("request_rate_published") == "inf"
    for key in ("isl_std", "osl_std"):
        if key in rec:
            assert 0 <= rec[key] < max(rec["isl"], rec["osl"])


@pytest.mark.parametrize(("name", "rec"), RECORDS, ids=_ids())
def test_results_are_in_seconds_and_tokens_per_chip(name: str, rec: dict[str, Any]) -> None:
    present = [key for key in RESULT_KEYS if key in rec]
    assert present, "a record needs at least one result"
    for key in present:
        value = rec[key]
        assert isinstance(value, float | int) and math.isfinite(value), key
        metric = key.split("_", 1)[1]
        if metric == "ttft":
            low, high = TTFT_BOUNDS_S
        elif metric in ("tpot", "itl"):
            low, high = STEP_BOUNDS_S
        elif metric == "e2el":
            low, high = E2EL_BOUNDS_S
        else:
            low, high = 0.0, TPUT_MAX
        assert low < value <= high, (key, value)
    if "tput_per_gpu" in rec and "output_tput_per_gpu" in rec:
        assert rec["tput_per_gpu"] >= rec["output_tput_per_gpu"]


@pytest.mark.parametrize(("name", "rec"), RECORDS, ids=_ids())
def test_percentiles_are_ordered(name: str, rec: dict[str, Any]) -> None:
    for metric in ("ttft", "tpot", "itl", "e2el"):
        median, p99 = rec.get(f"median_{metric}"), rec.get(f"p99_{metric}")
        if median is not None and p99 is not None and p99 < median:
            assert "anomaly" in rec, f"p99 below median for {metric} without an anomaly note"


@pytest.mark.parametrize(("name", "rec"), RECORDS, ids=_ids())
def test_output_rate_obeys_littles_law(name: str, rec: dict[str, Any]) -> None:
    """``conc`` streams each emitting a token per TPOT cannot produce more than ``conc / TPOT`` tokens/s."""
    step = next((rec[k] for k in ("mean_tpot", "median_tpot", "mean_itl", "median_itl") if k in rec), None)
    if step is None or "output_tput_per_gpu" not in rec:
        pytest.skip("no per-token time or no output rate")
    streams = min(rec["conc"], rec.get("max_num_seqs", rec["conc"]))
    assert rec["output_tput_per_gpu"] * rec["chips"] <= LITTLE_SLACK * streams / step
