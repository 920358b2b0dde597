"""The trace-loader registry: named loaders (duplicates refused) and ``load_trace`` for names or files.

A loader is any callable ``loader(*, skip_bad_rows: bool) -> RequestTrace | JobTrace`` registered with
:func:`register_loader` (the :data:`LOADERS` registry); tests/test_plugin_contract.py runs one contract over every
registered loader.
``load_trace`` also reads a CSV/TSV/JSONL file (optionally gzip-compressed) through a column mapping, or, without
one, when its header matches a known published layout (Azure LLM 2023, Mooncake, Philly/Pollux, Vidur).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, get_args

from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.registry import Registry, summary
from chipfleet.traces.formats import (
    KNOWN_FORMATS,
    MappingInput,
    decode,
    detect_format,
    file_format,
    parse_mapping,
    parse_trace,
    read_header,
)
from chipfleet.traces.schema import JobTrace, RequestTrace, TraceKind


class TraceLoader(Protocol):
    """The declared interface of a registered loader."""

    def __call__(self, *, skip_bad_rows: bool = False) -> RequestTrace | JobTrace: ...


L = TypeVar("L", bound=TraceLoader)

_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".gz", ".txt")


@dataclass(frozen=True)
class LoaderInfo:
    """A registered loader and what it returns."""

    name: str
    kind: TraceKind
    loader: TraceLoader
    description: str = ""

    def __str__(self) -> str:  # how a refused duplicate registration names this entry
        module = getattr(self.loader, "__module__", "?")
        return f"{module}.{getattr(self.loader, '__qualname__', repr(self.loader))} ({self.kind})"


LOADERS: Registry[LoaderInfo] = Registry("trace")
"""Every named trace: its loader and the kind of trace it returns. ``register_loader`` adds one."""


def register_loader(name: str, *, kind: TraceKind, description: str | None = None) -> Callable[[L], L]:
    """Decorator registering a trace loader under ``name`` in the package registry (duplicates refused); it must
    return a trace of ``kind``. The description defaults to the first paragraph of the loader's docstring."""
    LOADERS.check_name(name)
    if kind not in get_args(TraceKind):
        raise ConfigError(f"trace loader {name!r}: kind must be 'requests' or 'jobs', got {kind!r}.")

    def decorate(loader: L) -> L:
        text = summary(loader) if description is None else description
        LOADERS.register(name, LoaderInfo(name, kind, loader, text), description=text)
        return loader

    return decorate


def list_traces() -> list[str]:
    """Names of every registered trace, sorted."""
    return LOADERS.names()


def trace_info(name: str) -> LoaderInfo:
    """The registered loader called ``name`` (kind, description); case-insensitive, a miss suggests names."""
    return LOADERS.get(name)


def _check_kind(trace: RequestTrace | JobTrace, kind: TraceKind | None, what: str) -> RequestTrace | JobTrace:
    if kind is not None and trace.kind != kind:
        raise ConfigError(f"{what} holds {trace.kind}, not {kind}; pick a {kind} trace or drop kind={kind!r}.")
    return trace


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.lower().endswith(_FILE_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return name.rsplit(".", 1)[0] if "." in name else name


def load_file(
    path: str | os.PathLike[str],
    *,
    mapping: MappingInput | None = None,
    kind: TraceKind | None = None,
    skip_bad_rows: bool = False,
    name: str | None = None,
) -> RequestTrace | JobTrace:
    """Read a CSV/TSV/JSONL trace file (``.gz`` allowed) through ``mapping``, or its recognised header layout."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read trace file {p}: {exc.strerror or exc}.") from None
    label = str(p)
    fmt = file_format(label)
    if mapping is None:
        header = read_header(decode(data, label), fmt)
        known = detect_format(header)
        if known is None:
            layouts = "; ".join(f"{k.name}: {', '.join(sorted(k.columns))}" for k in KNOWN_FORMATS)
            raise ConfigError(
                f"{label}: columns ({', '.join(header) or 'none found'}) match no known trace layout ({layouts}). "
                "Name the columns with a mapping of field to column: arrival=ts, input=prompt, output=completion, "
                "time_unit=s (requests) or submit=..., chips=..., duration=... (jobs).",
                field="mapping",
            )
        column_mapping = known.mapping
    else:
        column_mapping = parse_mapping(mapping, kind)
    trace = parse_trace(
        data,
        label,
        column_mapping,
        name=name or _stem(p),
        source=str(p),
        license="unspecified (user file)",
        skip_bad_rows=skip_bad_rows,
        fmt=fmt,
    )
    return _check_kind(trace, kind, label)


def load_trace(
    name_or_path: str | os.PathLike[str],
    *,
    skip_bad_rows: bool = False,
    mapping: Mapping[str, str | int] | None = None,
    kind: TraceKind | None = None,
) -> RequestTrace | JobTrace:
    """A registered trace by name (``azure-conv``, ``philly``, ...) or a trace file by path.

    ``mapping`` names the columns of a file (see :mod:`chipfleet.traces.formats`); ``kind`` ('requests' or
    'jobs') is checked against what loads. With ``skip_bad_rows`` bad rows are dropped and counted in
    ``skipped_rows`` instead of raising :class:`ConfigError`.
    """
    if kind is not None and kind not in get_args(TraceKind):
        raise ConfigError(f"kind must be 'requests' or 'jobs', got {kind!r}.")
    key = os.fspath(name_or_path)
    if isinstance(name_or_path, str) and key in LOADERS:
        if mapping is not None:
            raise ConfigError(
                f"{key!r} is a registered trace with its own layout; a mapping applies only to files. "
                "Drop the mapping, or pass a file path."
            )
        info = LOADERS.get(key)
        return _check_kind(info.loader(skip_bad_rows=skip_bad_rows), kind, f"trace {key!r}")
    if Path(key).is_file():
        return load_file(key, mapping=mapping, kind=kind, skip_bad_rows=skip_bad_rows)
    if _looks_like_path(key) or not isinstance(name_or_path, str):
        raise ConfigError(
            f"no trace file {key!r} (looked relative to {Path.cwd()}); check the path, "
            f"or use a registered trace: {', '.join(list_traces())}."
        )
    raise UnknownNameError("trace", key, LOADERS.names())
