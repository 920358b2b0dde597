"""Serving benchmarks (shipped ``data/benchmarks.yaml``): the datasets behind MLPerf Inference LLM results.

An MLPerf Offline or Server result is a rate over a fixed dataset, so predicting it needs that dataset's token
lengths. :class:`ServingBenchmark` records them with their sources. A figure no source gave is ``None``, never
a guess: for example the mean input length of the llama2-70b OpenOrca subset is not published in any source
read so far. Callers must handle ``None``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from chipfleet.exceptions import ModelConfigError, UnknownNameError
from chipfleet.workloads.models import ModelSlug
from chipfleet.workloads.records import compact, parse_records
from chipfleet.workloads.zoo import get_model

BENCHMARKS_SCHEMA_VERSION = 1
BENCHMARKS_FILE = "benchmarks.yaml"


class ServingBenchmark(BaseModel):
    """One inference benchmark: the model it runs, its dataset and that dataset's token lengths.

    ``mean_*`` are per-sample means over the whole dataset: the prompt tokens the model reads, and the tokens it
    generates. ``max_*`` are the caps that the benchmark definition or reference implementation enforces, not
    the longest sample actually present. Any of the four is ``None`` when no source gave it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ModelSlug
    aliases: tuple[str, ...] = Field(default=(), description="other names get_benchmark accepts (MLPerf ids)")
    model: ModelSlug = Field(description="zoo model name (chipfleet.workloads.get_model)")
    dataset: str = Field(min_length=1)
    mean_input_tokens: PositiveFloat | None = Field(description="mean prompt tokens per sample; None: unsourced")
    mean_output_tokens: PositiveFloat | None = Field(description="mean generated tokens per sample; None: unsourced")
    max_input_tokens: PositiveInt | None = None
    max_output_tokens: PositiveInt | None = None
    samples: PositiveInt = Field(description="number of samples (queries) in the dataset")
    source: str = Field(min_length=3, description="URL or owner/repo@commit:path of the main source")
    as_of: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    notes: str = ""


def parse_benchmarks(text: str, origin: str) -> Mapping[str, ServingBenchmark]:
    """Validate a benchmarks YAML document (``schema_version`` and ``benchmarks`` list) into records by name.

    Raises :class:`ModelConfigError` naming ``origin`` for malformed YAML, a wrong schema version, an invalid
    record, a model that is not in the zoo, or a duplicated name or alias.
    """
    benchmarks = parse_records(text, origin, "benchmarks", BENCHMARKS_SCHEMA_VERSION, ServingBenchmark, "benchmark")
    for label, bench in benchmarks.items():
        try:
            zoo_name = get_model(bench.model).name
        except UnknownNameError as e:
            raise ModelConfigError(f"{origin}: benchmark {label!r}: {e}") from None
        if zoo_name != bench.model:
            raise ModelConfigError(
                f"{origin}: benchmark {label!r}: model {bench.model!r} is an alias; use the zoo name {zoo_name!r}."
            )
    return MappingProxyType(benchmarks)


@functools.cache
def _benchmarks() -> Mapping[str, ServingBenchmark]:
    """The shipped benchmarks, read from package data once per process."""
    resource = resources.files("chipfleet.workloads") / "data" / BENCHMARKS_FILE
    text = resource.read_text(encoding="utf-8")
    return parse_benchmarks(text, origin=f"chipfleet/workloads/data/{BENCHMARKS_FILE}")


def list_benchmarks() -> list[ServingBenchmark]:
    """Every shipped benchmark, in the order of ``data/benchmarks.yaml``."""
    return list(_benchmarks().values())


def get_benchmark(name: str) -> ServingBenchmark:
    """The benchmark called ``name`` or one of its aliases (``mlperf-llama2-70b``, ``llama2-70b-99``).

    Case and separators are ignored. A miss raises :class:`UnknownNameError` with the closest names.
    """
    benchmarks = _benchmarks()
    wanted = name.strip().lower()
    squeezed = compact(name)
    for bench in benchmarks.values():
        for key in (bench.name, *bench.aliases):
            if key.lower() == wanted or compact(key) == squeezed:
                return bench
    raise UnknownNameError("benchmark", name, benchmarks.keys())
