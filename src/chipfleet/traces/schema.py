"""The two trace records every loader and generator returns: :class:`RequestTrace` and :class:`JobTrace`.

Both are frozen dataclasses over read-only numpy arrays. Times are seconds from the first event, sorted
ascending, so ``arrival_s[0] == 0`` (``submit_s[0] == 0``). Every helper returns a new trace; nothing mutates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError

TraceKind = Literal["requests", "jobs"]

Summary = dict[str, float | int | str]

# Bounds that separate a real workload from a data or unit error. They are limits on what a trace may hold, chosen
# far above every published trace, not model parameters:
MAX_SPAN_S = 10 * 365.25 * 86_400.0
"""Ten years: the longest span (and job run time) a trace may hold. Published traces span an hour (Azure LLM 2023,
Mooncake) to about three months (Philly, 2017-09 to 2017-12); a span beyond ten years almost always means a time
unit slip (milliseconds or nanoseconds read as seconds) or a corrupt timestamp. Estimate, chosen 2026-12."""
MAX_REQUEST_TOKENS = 10_000_000
"""Tokens in one request's prompt or output: the largest published context window, Llama 4 Scout's 10M tokens
(Meta, "The Llama 4 herd", ai.meta.com/blog/llama-4-multimodal-intelligence/, 2025-04-05). The shipped traces reach
126,195 (Mooncake)."""
MAX_JOB_CHIPS = 1_000_000
"""Chips one job may ask for. Estimate: about five times the largest AI clusters reported by 2025 (xAI Colossus,
100,000 then 200,000 H100/H200, 2024-2025); Philly's largest job asks for 128 GPUs."""


def _frozen_array(values: Any, dtype: type[np.generic], what: str) -> NDArray[Any]:
    """A 1-D read-only copy of ``values`` as ``dtype``."""
    arr = np.array(values, dtype=dtype, copy=True)
    if arr.ndim != 1:
        raise ConfigError(f"{what} must be one-dimensional, got shape {arr.shape}.")
    arr.setflags(write=False)
    return arr


def _counts(values: Any, what: str, high: int) -> NDArray[np.int64]:
    """Whole counts as a read-only int64 array; values that are fractional, non-finite or beyond ``high`` are
    refused here rather than wrapped around by the int64 conversion."""
    try:
        arr = np.asarray(values)
        as_float = arr.astype(np.float64) if arr.dtype.kind in "fO" else None
    except (OverflowError, TypeError, ValueError):
        raise ConfigError(f"{what} must be whole numbers of at most {high:,}.") from None
    if as_float is not None:
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(as_float) | (as_float != np.floor(as_float)) | (np.abs(as_float) > high)
        if np.any(bad):
            raise ConfigError(f"{what} must be whole numbers of at most {high:,}, got {float(as_float[bad][0]):g}.")
    try:
        out = np.array(arr, dtype=np.int64, copy=True)
    except (OverflowError, TypeError, ValueError):
        raise ConfigError(f"{what} must be whole numbers of at most {high:,}.") from None
    return _frozen_array(out, np.int64, what)


def _check_times(times: NDArray[np.float64], what: str) -> None:
    if times.size == 0:
        return
    if not np.all(np.isfinite(times)):
        raise ConfigError(f"{what} contains NaN or infinite values; every time must be a finite number of seconds.")
    if times[0] != 0.0:
        raise ConfigError(f"{what} must start at 0 (seconds from the first event), got {times[0]!r}.")
    if np.any(np.diff(times) < 0):
        raise ConfigError(f"{what} must be sorted ascending; sort the rows (loaders do this for you).")
    if times[-1] > MAX_SPAN_S:
        raise ConfigError(
            f"{what} spans {times[-1]:.4g} s, more than the {MAX_SPAN_S:.4g} s (10-year) limit of a trace: "
            "check the time unit (milliseconds or nanoseconds read as seconds?) or the rate scale."
        )


def _check_counts(values: NDArray[np.int64], what: str, low: int, high: int, why: str) -> None:
    if values.size and (int(values.min()) < low or int(values.max()) > high):
        raise ConfigError(f"{what} must be between {low:,} and {high:,} ({why}); got {int(values.min()):,} to "
                          f"{int(values.max()):,}.")  # fmt: skip


def _stats(prefix: str, values: NDArray[Any]) -> Summary:
    if values.size == 0:
        return {f"{prefix}_{stat}": math.nan for stat in ("mean", "median", "p99", "max")}
    return {
        f"{prefix}_mean": float(np.mean(values)),
        f"{prefix}_median": float(np.median(values)),
        f"{prefix}_p99": float(np.percentile(values, 99)),
        f"{prefix}_max": float(np.max(values)),
    }


def _window(start: int, stop: int | None) -> slice:
    """``range``-like arguments: ``(stop)`` or ``(start, stop)``, Python slice semantics for negatives."""
    if stop is None:
        start, stop = 0, start
    return slice(start, stop)


def _rebased(times: NDArray[np.float64]) -> NDArray[np.float64]:
    return times - times[0] if times.size else times


def _check_head(n: int, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(
            f"the number of {what} to keep must be a whole number >= 1 (an empty workload has nothing to simulate "
            f"or plan), got {n!r}; drop the limit to use the whole trace (CLI: --{what})."
        )


def _check_factor(factor: float) -> None:
    if not (math.isfinite(factor) and factor > 0):
        raise ConfigError(f"rate factor must be a finite number > 0 (2 = twice as fast), got {factor!r}.")


@dataclass(frozen=True, eq=False)
class RequestTrace:
    """LLM inference requests: when each arrives and how many tokens it reads and writes.

    ``hash_ids`` (when the trace has them, as Mooncake's does) holds one tuple per request: the ids of the
    prompt's prefix blocks of ``block_tokens`` tokens each; equal leading ids mean a reusable KV-cache prefix.
    """

    name: str
    arrival_s: NDArray[np.float64]
    input_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]
    hash_ids: tuple[tuple[int, ...], ...] | None = None
    block_tokens: int | None = None
    source: str = ""
    license: str = ""
    skipped_rows: int = 0
    kind: ClassVar[TraceKind] = "requests"

    def __post_init__(self) -> None:
        arrival = _frozen_array(self.arrival_s, np.float64, "arrival_s")
        inp = _counts(self.input_tokens, f"trace {self.name!r}: input_tokens", MAX_REQUEST_TOKENS)
        out = _counts(self.output_tokens, f"trace {self.name!r}: output_tokens", MAX_REQUEST_TOKENS)
        object.__setattr__(self, "arrival_s", arrival)
        object.__setattr__(self, "input_tokens", inp)
        object.__setattr__(self, "output_tokens", out)
        n = arrival.size
        if inp.size != n or out.size != n:
            raise ConfigError(
                f"trace {self.name!r}: arrival_s, input_tokens and output_tokens must have one entry per request "
                f"(got {n}, {inp.size}, {out.size})."
            )
        _check_times(arrival, f"trace {self.name!r} arrival_s")
        _check_counts(
            inp, f"trace {self.name!r}: input_tokens", 1, MAX_REQUEST_TOKENS, "a prompt has at least one token"
        )
        _check_counts(
            out, f"trace {self.name!r}: output_tokens", 1, MAX_REQUEST_TOKENS, "every request generates a token"
        )
        if self.hash_ids is not None:
            hashes = self.hash_ids
            if not (isinstance(hashes, tuple) and all(type(row) is tuple for row in hashes)):
                hashes = tuple(tuple(int(h) for h in row) for row in hashes)
            if len(hashes) != n:
                raise ConfigError(
                    f"trace {self.name!r}: hash_ids must have one tuple per request ({len(hashes)} != {n})."
                )
            object.__setattr__(self, "hash_ids", hashes)
        if self.block_tokens is not None and self.block_tokens < 1:
            raise ConfigError(f"trace {self.name!r}: block_tokens must be >= 1, got {self.block_tokens}.")
        if self.skipped_rows < 0:
            raise ConfigError(f"trace {self.name!r}: skipped_rows must be >= 0.")

    def __len__(self) -> int:
        return int(self.arrival_s.size)

    @property
    def duration_s(self) -> float:
        """Seconds from the first arrival to the last (0 for fewer than two requests)."""
        return float(self.arrival_s[-1]) if self.arrival_s.size else 0.0

    @property
    def span_s(self) -> float:
        """Same as :attr:`duration_s`; the name :class:`JobTrace` also uses."""
        return self.duration_s

    @property
    def rate_per_s(self) -> float:
        """Mean arrival rate: inter-arrival intervals per second of span, ``(n - 1) / duration_s``."""
        span = self.duration_s
        return (len(self) - 1) / span if span > 0 else 0.0

    def slice(self, start: int, stop: int | None = None) -> RequestTrace:
        """Requests ``[start:stop]`` (or ``[:start]`` with one argument, like ``range``), re-based to start at 0."""
        window = _window(start, stop)
        arrival = self.arrival_s[window]
        hashes = self.hash_ids[window] if self.hash_ids is not None else None
        return replace(
            self,
            arrival_s=_rebased(arrival),
            input_tokens=self.input_tokens[window],
            output_tokens=self.output_tokens[window],
            hash_ids=hashes,
        )

    def head(self, n: int) -> RequestTrace:
        """The first ``n`` requests (``n >= 1``: an empty workload has nothing to simulate or plan)."""
        _check_head(n, "requests")
        return self.slice(0, n)

    def scale_rate(self, factor: float) -> RequestTrace:
        """Replay ``factor`` times as fast (arrival times divided by ``factor``; 0.5 stretches to half the rate)."""
        _check_factor(factor)
        return replace(self, arrival_s=self.arrival_s / factor)

    def describe(self) -> Summary:
        """Summary statistics: count, duration, rate, and mean/median/p99/max of input and output tokens."""
        summary: Summary = {
            "name": self.name,
            "kind": self.kind,
            "count": len(self),
            "duration_s": self.duration_s,
            "span_s": self.span_s,
            "rate_per_s": self.rate_per_s,
        }
        summary.update(_stats("input_tokens", self.input_tokens))
        summary.update(_stats("output_tokens", self.output_tokens))
        summary["skipped_rows"] = self.skipped_rows
        return summary


@dataclass(frozen=True, eq=False)
class JobTrace:
    """Cluster training jobs: when each is submitted, how many chips it asks for and how long it ran.

    ``duration_s`` is per-job run time on the trace's original hardware (for Philly, NVIDIA P100/P40-era GPUs);
    the job-span helper is therefore :attr:`span_s`, not ``duration_s``.
    """

    name: str
    submit_s: NDArray[np.float64]
    chips: NDArray[np.int64]
    duration_s: NDArray[np.float64]
    source: str = ""
    license: str = ""
    skipped_rows: int = 0
    kind: ClassVar[TraceKind] = "jobs"

    def __post_init__(self) -> None:
        submit = _frozen_array(self.submit_s, np.float64, "submit_s")
        chips = _counts(self.chips, f"trace {self.name!r}: chips", MAX_JOB_CHIPS)
        duration = _frozen_array(self.duration_s, np.float64, "duration_s")
        object.__setattr__(self, "submit_s", submit)
        object.__setattr__(self, "chips", chips)
        object.__setattr__(self, "duration_s", duration)
        n = submit.size
        if chips.size != n or duration.size != n:
            raise ConfigError(
                f"trace {self.name!r}: submit_s, chips and duration_s must have one entry per job "
                f"(got {n}, {chips.size}, {duration.size})."
            )
        _check_times(submit, f"trace {self.name!r} submit_s")
        _check_counts(chips, f"trace {self.name!r}: chips", 1, MAX_JOB_CHIPS, "a job runs on at least one chip")
        if not np.all(np.isfinite(duration)) or np.any(duration < 0) or np.any(duration > MAX_SPAN_S):
            raise ConfigError(
                f"trace {self.name!r}: duration_s must be finite, >= 0 and at most {MAX_SPAN_S:.4g} s (10 years); "
                "check the duration unit."
            )
        if self.skipped_rows < 0:
            raise ConfigError(f"trace {self.name!r}: skipped_rows must be >= 0.")

    def __len__(self) -> int:
        return int(self.submit_s.size)

    @property
    def span_s(self) -> float:
        """Seconds from the first submission to the last."""
        return float(self.submit_s[-1]) if self.submit_s.size else 0.0

    @property
    def rate_per_s(self) -> float:
        """Mean submission rate, ``(n - 1) / span_s``."""
        span = self.span_s
        return (len(self) - 1) / span if span > 0 else 0.0

    @property
    def chip_seconds(self) -> float:
        """Total chip-time of all jobs, ``sum(chips * duration_s)`` (GPU-seconds for GPU traces)."""
        return float(np.sum(self.chips * self.duration_s))

    def slice(self, start: int, stop: int | None = None) -> JobTrace:
        """Jobs ``[start:stop]`` (or ``[:start]`` with one argument, like ``range``), re-based to start at 0."""
        window = _window(start, stop)
        return replace(
            self,
            submit_s=_rebased(self.submit_s[window]),
            chips=self.chips[window],
            duration_s=self.duration_s[window],
        )

    def head(self, n: int) -> JobTrace:
        """The first ``n`` jobs (``n >= 1``: an empty workload has nothing to simulate or plan)."""
        _check_head(n, "jobs")
        return self.slice(0, n)

    def scale_rate(self, factor: float) -> JobTrace:
        """Submit ``factor`` times as fast (submit times divided by ``factor``); job durations are unchanged."""
        _check_factor(factor)
        return replace(self, submit_s=self.submit_s / factor)

    def describe(self) -> Summary:
        """Summary statistics: count, span, rate, chips and run-time percentiles, total chip-hours."""
        summary: Summary = {
            "name": self.name,
            "kind": self.kind,
            "count": len(self),
            "span_s": self.span_s,
            "rate_per_s": self.rate_per_s,
        }
        summary.update(_stats("chips", self.chips))
        summary.update(_stats("duration_s", self.duration_s))
        summary["chip_hours"] = self.chip_seconds / 3600.0
        summary["skipped_rows"] = self.skipped_rows
        return summary


Trace = RequestTrace | JobTrace
