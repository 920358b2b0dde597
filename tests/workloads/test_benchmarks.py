"""Tests for the shipped serving benchmarks (data/benchmarks.yaml): loading, lookups and file validation."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from chipfleet.exceptions import ModelConfigError, UnknownNameError
from chipfleet.workloads import ServingBenchmark, get_benchmark, get_model, list_benchmarks
from chipfleet.workloads.benchmarks import parse_benchmarks

REQUIRED = ["mlperf-llama2-70b", "mlperf-gptj", "mlperf-mixtral-8x7b"]


def test_benchmarks_load() -> None:
    benches = list_benchmarks()
    names = [b.name for b in benches]
    assert set(REQUIRED) <= set(names)
    assert len(names) == len(set(names))
    for b in benches:
        assert isinstance(b, ServingBenchmark)
        assert get_model(b.model).name == b.model  # a zoo name, not an alias
        assert b.source.startswith("https://")
        if b.mean_input_tokens is not None and b.max_input_tokens is not None:
            assert b.mean_input_tokens <= b.max_input_tokens
        if b.mean_output_tokens is not None and b.max_output_tokens is not None:
            assert b.mean_output_tokens <= b.max_output_tokens


def test_list_benchmarks_is_a_fresh_list() -> None:
    benches = list_benchmarks()
    benches.clear()
    assert list_benchmarks()


def test_shipped_figures() -> None:
    """The sourced figures (see each record's notes); unsourced means stay None."""
    llama = get_benchmark("mlperf-llama2-70b")
    assert (llama.model, llama.samples) == ("llama-2-70b", 24576)
    assert llama.mean_output_tokens == pytest.approx(294.45)
    assert (llama.max_input_tokens, llama.max_output_tokens) == (1024, 1024)
    gptj = get_benchmark("mlperf-gptj")
    assert (gptj.model, gptj.samples) == ("gpt-j-6b", 13368)
    assert (gptj.max_input_tokens, gptj.max_output_tokens) == (1919, 128)
    mixtral = get_benchmark("mlperf-mixtral-8x7b")
    assert (mixtral.model, mixtral.samples) == ("mixtral-8x7b", 15000)
    assert mixtral.mean_output_tokens == pytest.approx(145.9)
    for b in (llama, gptj, mixtral):
        assert b.mean_input_tokens is None  # not found in any source read: never guessed
        assert "NOT FOUND" in b.notes


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mlperf-llama2-70b", "mlperf-llama2-70b"),
        ("MLPERF-LLAMA2-70B", "mlperf-llama2-70b"),
        ("llama2-70b-99", "mlperf-llama2-70b"),
        ("llama2-70b-99.9", "mlperf-llama2-70b"),
        (" gptj-99 ", "mlperf-gptj"),
        ("gptj_99.9", "mlperf-gptj"),
        ("mixtral-8x7b", "mlperf-mixtral-8x7b"),
    ],
)
def test_get_benchmark_names_and_aliases(query: str, expected: str) -> None:
    assert get_benchmark(query).name == expected


def test_unknown_benchmark_suggests_close_name() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_benchmark("mlperf-llama2-7b")
    assert "mlperf-llama2-70b" in info.value.suggestions
    assert "Did you mean" in str(info.value)
    assert info.value.kind == "benchmark"
    assert isinstance(info.value, KeyError)


# ----------------------------------------------------------------------------- file validation
def _doc(*records: dict[str, Any], version: int = 1) -> str:
    return yaml.safe_dump({"schema_version": version, "benchmarks": list(records)})


def _record(name: str = "b", **overrides: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": name,
        "model": "llama-2-70b",
        "dataset": "d",
        "mean_input_tokens": 100.0,
        "mean_output_tokens": 50.0,
        "samples": 10,
        "source": "https://example.org/b",
        "as_of": "2024",
    }
    rec.update(overrides)
    return rec


def test_parse_benchmarks_errors() -> None:
    assert list(parse_benchmarks(_doc(_record()), "b.yaml")) == ["b"]
    with pytest.raises(ModelConfigError, match=r"b\.yaml: schema_version is 2"):
        parse_benchmarks(_doc(_record(), version=2), "b.yaml")
    with pytest.raises(ModelConfigError, match="already used by 'b'"):
        parse_benchmarks(_doc(_record(), _record("c", aliases=["B"])), "b.yaml")
    with pytest.raises(ModelConfigError, match=r"benchmark 'bad' is invalid: .*samples"):
        parse_benchmarks(_doc(_record("bad", samples=0)), "b.yaml")
    with pytest.raises(ModelConfigError, match="unknown model 'no-such-model'"):
        parse_benchmarks(_doc(_record(model="no-such-model")), "b.yaml")
    with pytest.raises(ModelConfigError, match="is an alias; use the zoo name 'llama-2-70b'"):
        parse_benchmarks(_doc(_record(model="llama2-70b")), "b.yaml")
    with pytest.raises(ModelConfigError, match="not valid YAML"):
        parse_benchmarks("benchmarks: [", "b.yaml")
    # A figure no source gave is recorded as null, which the schema accepts.
    unsourced = parse_benchmarks(_doc(_record(mean_input_tokens=None)), "b.yaml")["b"]
    assert unsourced.mean_input_tokens is None
