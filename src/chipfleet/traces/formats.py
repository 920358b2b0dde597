"""Parse CSV and JSON Lines trace files into traces through a column mapping, with row-level error reports.

A mapping names, for each field of the schema, the column (CSV) or key (JSONL) that holds it::

    requests: {"arrival": col, "input": col, "output": col, "time_unit": "s|ms|us|ns|datetime",
               "hash_ids": col (optional), "block_tokens": 512 (optional)}
    jobs:     {"submit": col, "chips": col, "duration": col, "time_unit": "s|ms|us|ns|datetime",
               "duration_unit": "s|ms|us|ns|min|h"}

Files may be gzip-compressed (``.gz``), have CRLF line endings, a UTF-8 byte-order mark, blank lines (skipped)
and rows in any order (sorted stably by time). A bad row (missing field, not a number, negative, a fractional
token count, zero output tokens) raises :class:`ConfigError` naming the file, line and column, unless
``skip_bad_rows`` is set, in which case bad rows are dropped and counted in ``skipped_rows``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast, get_args

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError, did_you_mean
from chipfleet.traces.schema import MAX_JOB_CHIPS, MAX_REQUEST_TOKENS, MAX_SPAN_S, JobTrace, RequestTrace, TraceKind

TimeUnit = Literal["s", "ms", "us", "ns", "datetime"]
DurationUnit = Literal["s", "ms", "us", "ns", "min", "h"]
FileFormat = Literal["csv", "tsv", "jsonl"]

_SECONDS_PER: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}
_REQUEST_KEYS = ("arrival", "input", "output", "time_unit", "hash_ids", "block_tokens")
_JOB_KEYS = ("submit", "chips", "duration", "time_unit", "duration_unit")
_FIX = "Fix or delete that row, or set skip_bad_rows to skip bad rows and count them in the trace's skipped_rows."


@dataclass(frozen=True)
class RequestMapping:
    """Which columns hold a request trace's fields, and the unit of the arrival column."""

    arrival: str
    input: str
    output: str
    time_unit: TimeUnit = "s"
    hash_ids: str | None = None
    block_tokens: int | None = None

    kind: ClassVar[TraceKind] = "requests"


@dataclass(frozen=True)
class JobMapping:
    """Which columns hold a job trace's fields, and their units."""

    submit: str
    chips: str
    duration: str
    time_unit: TimeUnit = "s"
    duration_unit: DurationUnit = "s"

    kind: ClassVar[TraceKind] = "jobs"


ColumnMapping = RequestMapping | JobMapping
MappingInput = Mapping[str, str | int] | RequestMapping | JobMapping


def parse_mapping(mapping: MappingInput, kind: TraceKind | None = None) -> ColumnMapping:
    """Validate a user's column mapping; the kind comes from ``kind`` or from the keys (arrival vs submit)."""
    if isinstance(mapping, RequestMapping | JobMapping):
        if kind is not None and kind != mapping.kind:
            raise ConfigError(f"mapping is for {mapping.kind} but kind={kind!r} was asked for.")
        return mapping
    keys = set(mapping)
    if kind is None:
        if "arrival" in keys and "submit" not in keys:
            kind = "requests"
        elif "submit" in keys and "arrival" not in keys:
            kind = "jobs"
        else:
            unknown = sorted(keys - set(_REQUEST_KEYS) - set(_JOB_KEYS))
            hints = [f"{k!r} (did you mean {', '.join(did_you_mean(k, _REQUEST_KEYS + _JOB_KEYS))}?)" for k in unknown]
            extra = f" Unknown keys: {', '.join(hints)}." if hints else ""
            raise ConfigError(
                "cannot tell whether the mapping describes requests or jobs: give 'arrival' (requests: arrival, "
                "input, output) or 'submit' (jobs: submit, chips, duration), or pass kind='requests'|'jobs'." + extra
            )
    else:
        other: TraceKind = "requests" if kind == "jobs" else "jobs"
        if ("arrival" if other == "requests" else "submit") in keys:
            raise ConfigError(
                f"the mapping describes {other} ({', '.join(sorted(keys))}) but kind={kind!r} was asked for; "
                f"drop kind or give a {kind} mapping."
            )
    allowed = _REQUEST_KEYS if kind == "requests" else _JOB_KEYS
    required = allowed[:3]
    for key in sorted(keys):
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            suggestion = f" Did you mean {', '.join(hint)}?" if hint else ""
            raise ConfigError(f"unknown {kind} mapping key {key!r}.{suggestion} Known keys: {', '.join(allowed)}.")
    missing = [k for k in required if k not in keys]
    if missing:
        raise ConfigError(
            f"{kind} mapping lacks {', '.join(missing)}: give the column name of each of {', '.join(required)}."
        )
    values = {k: str(v) for k, v in mapping.items() if k != "block_tokens"}
    for key in ("time_unit", "duration_unit"):
        if key in values:
            values[key] = values[key].strip().lower()
    time_unit = values.get("time_unit", "s")
    if time_unit not in get_args(TimeUnit):
        raise ConfigError(f"time_unit {time_unit!r} is not one of {', '.join(get_args(TimeUnit))}.")
    if kind == "jobs":
        duration_unit = values.get("duration_unit", "s")
        if duration_unit not in get_args(DurationUnit):
            raise ConfigError(f"duration_unit {duration_unit!r} is not one of {', '.join(get_args(DurationUnit))}.")
        return JobMapping(
            submit=values["submit"],
            chips=values["chips"],
            duration=values["duration"],
            time_unit=cast(TimeUnit, time_unit),
            duration_unit=cast(DurationUnit, duration_unit),
        )
    block_tokens: int | None = None
    if "block_tokens" in mapping:
        raw = mapping["block_tokens"]
        try:
            block_tokens = int(raw)
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(f"block_tokens must be a whole number of tokens, got {raw!r}.") from None
        if not 1 <= block_tokens <= MAX_REQUEST_TOKENS:
            raise ConfigError(
                f"block_tokens (tokens per prefix-hash block) must be between 1 and {MAX_REQUEST_TOKENS:,}, "
                f"got {block_tokens}; Mooncake's traces use 512."
            )
    return RequestMapping(
        arrival=values["arrival"],
        input=values["input"],
        output=values["output"],
        time_unit=cast(TimeUnit, time_unit),
        hash_ids=values.get("hash_ids"),
        block_tokens=block_tokens,
    )


# --- formats recognised by their header, so a file in a known layout loads without a mapping -------------------


@dataclass(frozen=True)
class KnownFormat:
    """A published trace layout, recognised when a file's header (or first JSON object's keys) has ``columns``."""

    name: str
    columns: frozenset[str]
    mapping: ColumnMapping


AZURE_LLM_2023 = KnownFormat(
    "azure-llm-inference-2023",
    frozenset({"TIMESTAMP", "ContextTokens", "GeneratedTokens"}),
    RequestMapping(arrival="TIMESTAMP", input="ContextTokens", output="GeneratedTokens", time_unit="datetime"),
)
# Mooncake timestamps are integer milliseconds from the trace start (shared/data/traces/README.md: 0 to
# 3,536,999 over about 59 minutes). Block size, 512 tokens per hash id: kvcache-ai/Mooncake's README and
# FAST25-release/README.md describe hash_ids only as "the remapped block hash" and defer to section 4 of the
# technical report (Qin et al., arXiv:2407.00079), whose trace description gives block size 512; the shipped
# conversation trace satisfies len(hash_ids) == ceil(input_length / 512) on all 12,031 rows, which pins the value
# (checked in tests/traces/test_registry.py::test_mooncake_conv_figures).
MOONCAKE_BLOCK_TOKENS = 512
MOONCAKE = KnownFormat(
    "mooncake",
    frozenset({"timestamp", "input_length", "output_length"}),
    RequestMapping(
        arrival="timestamp",
        input="input_length",
        output="output_length",
        time_unit="ms",
        hash_ids="hash_ids",
        block_tokens=MOONCAKE_BLOCK_TOKENS,
    ),
)
PHILLY_POLLUX = KnownFormat(
    "philly-pollux",
    frozenset({"timestamp", "duration", "num_gpus"}),
    JobMapping(submit="timestamp", chips="num_gpus", duration="duration", time_unit="datetime"),
)
# microsoft/vidur's data/processed_traces/splitwise_{code,conv}.csv: seconds since the first request.
VIDUR_PROCESSED = KnownFormat(
    "vidur-processed",
    frozenset({"arrived_at", "num_prefill_tokens", "num_decode_tokens"}),
    RequestMapping(arrival="arrived_at", input="num_prefill_tokens", output="num_decode_tokens", time_unit="s"),
)
KNOWN_FORMATS: tuple[KnownFormat, ...] = (AZURE_LLM_2023, MOONCAKE, PHILLY_POLLUX, VIDUR_PROCESSED)


def detect_format(columns: Sequence[str]) -> KnownFormat | None:
    """The known layout whose columns all appear in ``columns`` (None when none does)."""
    present = {c.strip() for c in columns}
    for fmt in KNOWN_FORMATS:
        if fmt.columns <= present:
            if isinstance(fmt.mapping, RequestMapping) and fmt.mapping.hash_ids and fmt.mapping.hash_ids not in present:
                return KnownFormat(
                    fmt.name,
                    fmt.columns,
                    RequestMapping(
                        fmt.mapping.arrival, fmt.mapping.input, fmt.mapping.output, fmt.mapping.time_unit, None, None
                    ),
                )
            return fmt
    return None


# --- reading -----------------------------------------------------------------------------------------------------


def file_format(label: str) -> FileFormat:
    """``csv``, ``tsv`` or ``jsonl`` from a file name (``.gz`` ignored); CSV when the suffix says nothing."""
    lower = label.lower().removesuffix(".gz")
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith(".tsv"):
        return "tsv"
    return "csv"


def decode(data: bytes, label: str) -> str:
    """Bytes (gzip-compressed or not) to text, dropping a UTF-8 byte-order mark."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ConfigError(f"{label}: not a valid gzip file ({exc}); re-download or decompress it.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text ({exc}); save the file as UTF-8.") from None


@dataclass
class _Rows:
    """Raw values of the mapped columns, one list per column, with each row's physical line number."""

    header: list[str]
    lines: list[int]
    values: dict[str, list[Any]]  # column name -> raw value per row (None when the row lacks it)
    broken: dict[int, str]  # row index -> why the whole row is unreadable (malformed JSON)


def _resolve(column: str, header: Sequence[str], label: str) -> str:
    if column in header:
        return column
    folded = [h for h in header if h.lower() == column.lower()]
    if len(folded) == 1:
        return folded[0]
    hint = did_you_mean(column, header)
    suggestion = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
    raise ConfigError(
        f"{label}: no column {column!r} in the header ({', '.join(header)}).{suggestion} "
        "Fix the mapping to name a column that exists."
    )


def _read_csv(text: str, label: str, columns: Sequence[str], delimiter: str) -> _Rows:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line (including trailing ones)
            if header is None:
                header = [h.strip() for h in row]
                continue
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise ConfigError(
            f"{label}, line {reader.line_num}: cannot be read as {kind} ({exc}). Check that the file is a "
            f"{kind} trace (JSON Lines files need a .jsonl suffix) and fix or delete that line."
        ) from None
    if header is None:
        raise ConfigError(f"{label}: the file is empty; a CSV trace needs a header line and at least one row.")
    resolved = {c: _resolve(c, header, label) for c in columns}
    values: dict[str, list[Any]] = {}
    for column, name in resolved.items():
        i = header.index(name)
        values[column] = [r[i] if i < len(r) else None for r in rows]
    return _Rows(header, lines, values, {})


def _read_jsonl(text: str, label: str, columns: Sequence[str], optional: Sequence[str]) -> _Rows:
    objects: list[dict[str, Any]] = []
    lines: list[int] = []
    broken: dict[int, str] = {}
    loads = json.loads
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except json.JSONDecodeError as exc:
            obj = None
            broken[len(objects)] = f"is not valid JSON ({exc.msg} at column {exc.colno})"
        except (ValueError, RecursionError) as exc:  # an integer of over 4,300 digits; nesting past the stack
            obj = None
            why = "nests too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            broken[len(objects)] = f"cannot be read as JSON ({why})"
        if obj is not None and not isinstance(obj, dict):
            broken[len(objects)] = "is not a JSON object ({...})"
            obj = None
        objects.append(obj if obj is not None else {})
        lines.append(number)
    if not objects:
        raise ConfigError(f"{label}: the file is empty; a JSONL trace needs one JSON object per line.")
    if len(broken) == len(objects):
        raise ConfigError(
            f"{label}: no line is a JSON object (line {lines[0]}: the row {broken[0]}). A JSONL trace has one "
            'object per line, e.g. {"arrival": 0.5, "input": 812, "output": 64}; check the file and its suffix.'
        )
    first = next((o for i, o in enumerate(objects) if i not in broken), {})
    header = list(first)
    resolved = {c: (c if c in optional and c not in header else _resolve(c, header, label)) for c in columns}
    values = {column: [o.get(key) for o in objects] for column, key in resolved.items()}
    return _Rows(header, lines, values, broken)


def read_header(text: str, fmt: FileFormat) -> list[str]:
    """Column names of a CSV/TSV file, or the keys of a JSONL file's first object."""
    for line in text.splitlines():
        if not line.strip():
            continue
        if fmt == "jsonl":
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                return []
            return list(obj) if isinstance(obj, dict) else []
        return [h.strip() for h in next(csv.reader([line], delimiter="\t" if fmt == "tsv" else ","))]
    return []


# --- converting and checking ---------------------------------------------------------------------------------------


class _Checker:
    """Collects the first problem of every bad row, then raises or drops them."""

    def __init__(self, label: str, lines: list[int], broken: Mapping[int, str]) -> None:
        self.label = label
        self.lines = lines
        self.n = len(lines)
        self.bad = np.zeros(self.n, dtype=bool)
        self.problems: dict[int, str] = {}
        for i, why in broken.items():
            self._flag(i, f"the row {why}")

    def _flag(self, i: int, message: str) -> None:
        if i not in self.problems:
            self.problems[i] = message
        self.bad[i] = True

    def flag(self, mask: NDArray[np.bool_], field: str, column: str, raw: Sequence[Any], reason: str) -> None:
        for i in np.flatnonzero(mask & ~self.bad).tolist():
            self._flag(i, f"field {column!r} ({field}) is {_show(raw[i])}: {reason}")

    def numbers(self, field: str, column: str, raw: Sequence[Any]) -> NDArray[np.float64]:
        """Floats, NaN where missing or not a number (those rows flagged)."""
        try:
            if None in raw or any(type(v) is bool for v in raw):
                raise TypeError
            out: NDArray[np.float64] = np.asarray(raw, dtype=np.float64)
            if out.ndim != 1:
                raise TypeError
        except (ValueError, TypeError, OverflowError):
            out = np.full(self.n, np.nan)
            for i, value in enumerate(raw):
                parsed, reason = _one_number(value)
                if reason:
                    self._flag(i, f"field {column!r} ({field}) is {_show(value)}: {reason}")
                else:
                    out[i] = parsed
        bad = ~np.isfinite(out)
        if bad.any():
            self.flag(bad, field, column, raw, "not a finite number")
        return out

    def datetimes_s(self, field: str, column: str, raw: Sequence[Any]) -> NDArray[np.float64]:
        """Seconds since the earliest valid timestamp, NaN for rows that are flagged."""
        texts = ["" if v is None else str(v).strip() for v in raw]
        try:
            stamps = np.asarray(texts).astype("datetime64[ns]")
        except ValueError:
            stamps = np.full(self.n, np.datetime64("NaT"), dtype="datetime64[ns]")
            for i, text in enumerate(texts):
                try:
                    stamps[i] = np.datetime64(text, "ns")
                except ValueError:
                    self._flag(
                        i, f"field {column!r} ({field}) is {_show(raw[i])}: not a date-time (YYYY-MM-DD HH:MM:SS)"
                    )
        missing = np.isnat(stamps)
        if missing.any():
            self.flag(missing, field, column, raw, "missing or not a date-time (YYYY-MM-DD HH:MM:SS[.fff])")
        valid = stamps[~missing]
        if valid.size == 0:
            return np.full(self.n, np.nan)
        ns = valid.astype(np.int64)
        seconds = np.full(self.n, np.nan)
        seconds[~missing] = (ns - ns.min()).astype(np.float64) * 1e-9
        return seconds

    def raise_or_keep(self, skip_bad_rows: bool) -> NDArray[np.bool_]:
        """The mask of rows to keep; raises on the first bad row unless skipping."""
        if self.bad.any() and not skip_bad_rows:
            first = min(self.problems)
            count = int(self.bad.sum())
            more = f" ({count} bad rows in all.)" if count > 1 else ""
            raise ConfigError(
                f"{self.label}, line {self.lines[first]}: {self.problems[first]}. {_FIX}{more}", field="skip_bad_rows"
            )
        keep: NDArray[np.bool_] = ~self.bad
        return keep


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)``, shortened to ``limit`` characters so a huge field does not flood the message."""
    if type(value) is int and abs(value) >= 10**limit:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_number(value: Any) -> tuple[float, str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan, "missing"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return math.nan, "not a number"
    try:
        return float(value), ""
    except ValueError:
        return math.nan, "not a number"
    except OverflowError:
        return math.nan, "not a finite number"


def _times_s(check: _Checker, field: str, column: str, raw: Sequence[Any], unit: str) -> NDArray[np.float64]:
    if unit == "datetime":
        return check.datetimes_s(field, column, raw)
    values = check.numbers(field, column, raw)
    check.flag(values < 0, field, column, raw, "a time must be >= 0")
    return values * _SECONDS_PER[unit]


_TOKENS_CAP = "more than the largest published context window, 10M tokens"
_CHIPS_CAP = "more chips than any cluster built"


def _counts(
    check: _Checker, field: str, column: str, raw: Sequence[Any], minimum: int, maximum: int, why: tuple[str, str]
) -> NDArray[np.float64]:
    """Whole numbers in ``[minimum, maximum]``; ``why`` explains each bound in the message."""
    values = check.numbers(field, column, raw)
    with np.errstate(invalid="ignore"):
        check.flag(values != np.floor(values), field, column, raw, "not a whole number")
        check.flag(values < minimum, field, column, raw, f"must be >= {minimum} ({why[0]})")
        check.flag(values > maximum, field, column, raw, f"must be at most {maximum:,} ({why[1]})")
    return values


def _check_span(check: _Checker, field: str, column: str, raw: Sequence[Any], seconds: NDArray[np.float64]) -> None:
    """Flag rows more than :data:`MAX_SPAN_S` after the earliest good row (a unit slip or a corrupt time)."""
    good = ~check.bad & np.isfinite(seconds)
    if not good.any():
        return
    with np.errstate(invalid="ignore"):
        late = (seconds - seconds[good].min()) > MAX_SPAN_S
    check.flag(
        late, field, column, raw,
        "more than 10 years after the earliest time in the file; check time_unit (s, ms, us, ns, datetime)",
    )  # fmt: skip


def _hashes(check: _Checker, column: str, raw: Sequence[Any]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for i, value in enumerate(raw):
        row = value
        if isinstance(row, str):
            try:
                row = json.loads(row)
            except json.JSONDecodeError:
                row = None
        if isinstance(row, list) and all(type(h) is int and -(2**63) <= h < 2**63 for h in row):
            out.append(tuple(row))
        else:
            check._flag(i, f"field {column!r} (hash_ids) is {_show(value)}: must be a list of 64-bit integers")
            out.append(())
    return out


def _require_rows(check: _Checker, keep: NDArray[np.bool_], what: str) -> None:
    """Refuse a file whose every row was skipped: an empty workload has nothing to simulate or plan."""
    if keep.any():
        return
    first = min(check.problems)
    raise ConfigError(
        f"{check.label}: all {check.n:,} rows were bad and skipped, so no {what} are left (first: line "
        f"{check.lines[first]}: {check.problems[first]}). Fix the rows or the column mapping."
    )


def _order(times: NDArray[np.float64]) -> NDArray[np.intp]:
    order: NDArray[np.intp] = np.argsort(times, kind="stable")
    return order


def _rebase(times: NDArray[np.float64]) -> NDArray[np.float64]:
    return times - times[0] if times.size else times


def parse_trace(
    data: bytes,
    label: str,
    mapping: ColumnMapping,
    *,
    name: str,
    source: str,
    license: str,
    skip_bad_rows: bool = False,
    fmt: FileFormat | None = None,
) -> RequestTrace | JobTrace:
    """Parse file bytes (``label`` names the file in errors) through ``mapping`` into a trace."""
    text = decode(data, label)
    fmt = fmt or file_format(label)
    if isinstance(mapping, RequestMapping):
        columns = [mapping.arrival, mapping.input, mapping.output]
        if mapping.hash_ids:
            columns.append(mapping.hash_ids)
    else:
        columns = [mapping.submit, mapping.chips, mapping.duration]
    optional = [mapping.hash_ids] if isinstance(mapping, RequestMapping) and mapping.hash_ids else []
    rows = (
        _read_jsonl(text, label, columns, optional)
        if fmt == "jsonl"
        else _read_csv(text, label, columns, "\t" if fmt == "tsv" else ",")
    )
    check = _Checker(label, rows.lines, rows.broken)
    if check.n == 0:
        what = "requests" if isinstance(mapping, RequestMapping) else "jobs"
        raise ConfigError(
            f"{label}: no data rows (only a header); a trace needs at least one of its {what}. "
            "Add rows, or check that this is the file you meant."
        )
    if isinstance(mapping, RequestMapping):
        return _requests(rows, check, mapping, name, source, license, skip_bad_rows)
    return _jobs(rows, check, mapping, name, source, license, skip_bad_rows)


def _requests(
    rows: _Rows, check: _Checker, m: RequestMapping, name: str, source: str, license: str, skip: bool
) -> RequestTrace:
    v = rows.values
    arrival = _times_s(check, "arrival", m.arrival, v[m.arrival], m.time_unit)
    _check_span(check, "arrival", m.arrival, v[m.arrival], arrival)
    inp = _counts(
        check,
        "input tokens",
        m.input,
        v[m.input],
        1,
        MAX_REQUEST_TOKENS,
        ("a prompt has at least one token", _TOKENS_CAP),
    )
    out = _counts(
        check,
        "output tokens",
        m.output,
        v[m.output],
        1,
        MAX_REQUEST_TOKENS,
        ("every request generates a token", _TOKENS_CAP),
    )
    hashes = _hashes(check, m.hash_ids, v[m.hash_ids]) if m.hash_ids else None
    keep = check.raise_or_keep(skip)
    _require_rows(check, keep, "requests")
    arrival, inp, out = arrival[keep], inp[keep], out[keep]
    order = _order(arrival)
    kept_hashes: tuple[tuple[int, ...], ...] | None = None
    if hashes is not None:
        kept = [h for h, k in zip(hashes, keep.tolist(), strict=True) if k]
        kept_hashes = tuple(kept[i] for i in order.tolist())
    return RequestTrace(
        name=name,
        arrival_s=_rebase(arrival[order]),
        input_tokens=inp[order].astype(np.int64),
        output_tokens=out[order].astype(np.int64),
        hash_ids=kept_hashes,
        block_tokens=m.block_tokens if m.hash_ids else None,
        source=source,
        license=license,
        skipped_rows=int(check.n - keep.sum()),
    )


def _jobs(rows: _Rows, check: _Checker, m: JobMapping, name: str, source: str, license: str, skip: bool) -> JobTrace:
    v = rows.values
    submit = _times_s(check, "submit", m.submit, v[m.submit], m.time_unit)
    _check_span(check, "submit", m.submit, v[m.submit], submit)
    chips = _counts(
        check, "chips", m.chips, v[m.chips], 1, MAX_JOB_CHIPS, ("a job runs on one chip or more", _CHIPS_CAP)
    )
    duration = check.numbers("duration", m.duration, v[m.duration])
    with np.errstate(invalid="ignore", over="ignore"):
        check.flag(duration < 0, "duration", m.duration, v[m.duration], "a duration must be >= 0")
        check.flag(
            duration * _SECONDS_PER[m.duration_unit] > MAX_SPAN_S, "duration", m.duration, v[m.duration],
            f"a job longer than 10 years; check duration_unit ({m.duration_unit!r} now)",
        )  # fmt: skip
    keep = check.raise_or_keep(skip)
    _require_rows(check, keep, "jobs")
    submit, chips, duration = submit[keep], chips[keep], duration[keep] * _SECONDS_PER[m.duration_unit]
    order = _order(submit)
    return JobTrace(
        name=name,
        submit_s=_rebase(submit[order]),
        chips=chips[order].astype(np.int64),
        duration_s=duration[order],
        source=source,
        license=license,
        skipped_rows=int(check.n - keep.sum()),
    )
