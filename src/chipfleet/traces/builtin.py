"""The shipped public traces (azure-code, azure-conv, mooncake-conv, philly), read from package data.

Files live gzip-compressed in ``chipfleet/traces/data/`` (origin, commit, license and checksums in its
README.md) and are read with :mod:`importlib.resources`, never from a checkout's ``shared/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from chipfleet.traces.formats import AZURE_LLM_2023, MOONCAKE, PHILLY_POLLUX, ColumnMapping, parse_trace
from chipfleet.traces.registry import register_loader
from chipfleet.traces.schema import JobTrace, RequestTrace, TraceKind

_AZURE_SOURCE = (
    "Azure LLM inference trace 2023, github.com/Azure/AzurePublicDataset data/{file} "
    "(commit 790921015d50dd6aae7f7e47f39ba0e235ad6b08); Patel et al., Splitwise, ISCA 2024"
)
_AZURE_LICENSE = "CC-BY-4.0"


@dataclass(frozen=True)
class ShippedTrace:
    """One trace file shipped in package data and how to read it."""

    name: str
    kind: TraceKind
    filename: str
    mapping: ColumnMapping
    source: str
    license: str
    description: str


SHIPPED: tuple[ShippedTrace, ...] = (
    ShippedTrace(
        "azure-code",
        "requests",
        "azure_code.csv.gz",
        AZURE_LLM_2023.mapping,
        _AZURE_SOURCE.format(file="AzureLLMInferenceTrace_code.csv"),
        _AZURE_LICENSE,
        "Azure LLM inference, coding service, 2023-11-16, 1 h, 8,819 requests",
    ),
    ShippedTrace(
        "azure-conv",
        "requests",
        "azure_conv.csv.gz",
        AZURE_LLM_2023.mapping,
        _AZURE_SOURCE.format(file="AzureLLMInferenceTrace_conv.csv"),
        _AZURE_LICENSE,
        "Azure LLM inference, conversation service, 2023-11-16, 1 h, 19,366 requests",
    ),
    ShippedTrace(
        "mooncake-conv",
        "requests",
        "mooncake_conversation_trace.jsonl.gz",
        MOONCAKE.mapping,
        "Mooncake FAST'25 conversation trace (Kimi), github.com/kvcache-ai/Mooncake "
        "FAST25-release/traces/conversation_trace.jsonl (commit 3cca71daccf2a7afb8fe3f0295358f70e3a69fdb); "
        "Qin et al., Mooncake, FAST 2025",
        "Apache-2.0",
        "Kimi conversation requests with 512-token prefix-block hashes, 1 h, 12,031 requests",
    ),
    ShippedTrace(
        "philly",
        "jobs",
        "philly.csv.gz",
        PHILLY_POLLUX.mapping,
        "Microsoft Philly DNN-training jobs as derived for Pollux, github.com/petuum/adaptdl branch osdi21-artifact "
        "simulator/traces/philly.csv (commit c793c7089bd307462686339d29707925c461f9a9); Jeon et al., ATC'19; "
        "Qiao et al., Pollux, OSDI'21",
        "Apache-2.0 (repository); underlying Philly data CC-BY-4.0",
        "Microsoft Philly GPU training jobs, 2017-09 to 2017-12, 82,247 jobs",
    ),
)


def shipped_bytes(filename: str) -> bytes:
    """The gzip-compressed bytes of a shipped trace file, from package data."""
    return resources.files("chipfleet.traces").joinpath("data", filename).read_bytes()


def _register(spec: ShippedTrace) -> None:
    def load(*, skip_bad_rows: bool = False) -> RequestTrace | JobTrace:
        return parse_trace(
            shipped_bytes(spec.filename),
            f"chipfleet/traces/data/{spec.filename}",
            spec.mapping,
            name=spec.name,
            source=spec.source,
            license=spec.license,
            skip_bad_rows=skip_bad_rows,
        )

    load.__doc__ = f"Load the shipped {spec.name!r} trace: {spec.description}."
    register_loader(spec.name, kind=spec.kind, description=spec.description)(load)


for _spec in SHIPPED:
    _register(_spec)
