"""Validation of serving records: one row per result key, skips with reasons, coverage over aggregated runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.serialize import to_jsonable
from chipfleet.validate.serving import parse_records, validate_serving

from .test_predict import DENSE


def test_rows_skips_and_coverage(cat: Catalog) -> None:
    docs = [
        {**DENSE, "id": "a"},
        {**DENSE, "id": "b", "conc": 64},
        {**DENSE, "id": "c", "disagg": True},
        {**DENSE, "id": "d", "model": "acme/unknown-7b"},
    ]
    report = validate_serving(parse_records(docs, "test"), cat)
    predicted = {r.id for r in report.results}
    assert predicted == {"a", "b"}
    assert report.aggregated == 3 and math.isclose(report.coverage, 2 / 3)
    # Every result key of a predicted record is a row or a skipped metric; the tails are skipped metrics.
    keys = {k for k in DENSE if k.startswith(("mean_", "median_", "p99_", "tput", "output_tput"))}
    a_rows = {r.metric for r in report.results if r.id == "a"}
    a_skips = {s.metric for s in report.skipped if s.id == "a"}
    assert a_rows | a_skips == keys and a_skips == {"p99_ttft"}
    whole = {s.id: s.skipped for s in report.skipped if s.metric is None}
    assert "disaggregated" in whole["c"] and "zoo" in whole["d"]
    for r in report.results:
        assert r.ape == abs(r.predicted - r.measured) / r.measured
    # More clients on one replica: longer TPOT, more throughput per GPU.
    by = {(r.id, r.metric): r.predicted for r in report.results}
    assert by[("b", "mean_tpot")] > by[("a", "mean_tpot")]
    assert by[("b", "output_tput_per_gpu")] > by[("a", "output_tput_per_gpu")]


def test_report_json_has_rows_skips_and_summaries(cat: Catalog) -> None:
    report = validate_serving(parse_records([{**DENSE, "id": "a"}, {**DENSE, "disagg": True}], "test"), cat)
    doc = to_jsonable(report)
    assert isinstance(doc, dict)
    row = doc["results"][0]
    assert {"id", "metric", "measured", "predicted", "ape"} <= set(row)
    assert {"id", "skipped"} <= set(doc["skipped"][0])
    # Coverage is over aggregated records: the disaggregated one is out of its scope.
    assert (
        doc["records"] == 2
        and doc["coverage"] == 1.0
        and {m["metric"] for m in doc["by_metric"]} >= {"mean_ttft", "mean_tpot"}
    )


def test_summaries_by_hardware_and_engine(cat: Catalog) -> None:
    docs = [{**DENSE, "id": "a"}, {**DENSE, "id": "b", "framework": "sglang"}, {**DENSE, "id": "c", "conc": 4}]
    report = validate_serving(parse_records(docs, "test"), cat)
    groups = {g.group: g for g in report.by_hardware_engine}
    assert set(groups) == {"h100×vllm", "h100×sglang"}
    assert groups["h100×vllm"].records == 2 and groups["h100×sglang"].records == 1
    vllm_tpot = [r.ape for r in report.results if r.metric == "mean_tpot" and r.engine == "vllm"]
    assert groups["h100×vllm"].mdape("mean_tpot") == pytest.approx(float(np.median(vllm_tpot)))
    assert math.isnan(groups["h100×vllm"].mdape("no_such_metric"))
