"""Workload traces: public request and job traces loaded into one schema, and synthetic generators."""

from chipfleet.traces import builtin as _builtin  # registers the shipped traces
from chipfleet.traces.formats import JobMapping, RequestMapping
from chipfleet.traces.registry import (
    LOADERS,
    LoaderInfo,
    TraceLoader,
    list_traces,
    load_file,
    load_trace,
    register_loader,
    trace_info,
)
from chipfleet.traces.schema import JobTrace, RequestTrace, Trace, TraceKind
from chipfleet.traces.synthetic import (
    EmpiricalLength,
    FixedLength,
    LengthDist,
    LognormalLength,
    UniformLength,
    diurnal,
    empirical_length,
    gamma_bursty,
    parse_length_dist,
    poisson,
    poisson_jobs,
)

del _builtin

__all__ = [
    "LOADERS",
    "EmpiricalLength",
    "FixedLength",
    "JobMapping",
    "JobTrace",
    "LengthDist",
    "LoaderInfo",
    "LognormalLength",
    "RequestMapping",
    "RequestTrace",
    "Trace",
    "TraceKind",
    "TraceLoader",
    "UniformLength",
    "diurnal",
    "empirical_length",
    "gamma_bursty",
    "list_traces",
    "load_file",
    "load_trace",
    "parse_length_dist",
    "poisson",
    "poisson_jobs",
    "register_loader",
    "trace_info",
]
