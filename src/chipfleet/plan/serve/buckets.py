"""Requests grouped by length into buckets, and how busy the trace is: its design (busy-window) rate and daily
curve; requests left out of a plan (beyond the context window or every replica's KV cache)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from chipfleet.exceptions import ConfigError
from chipfleet.perf.batching import SizeClass
from chipfleet.plan.serve.spec import ServeSLO
from chipfleet.traces.schema import RequestTrace
from chipfleet.traces.synthetic import diurnal_rate_per_s

OPEN_EDGE = 1 << 62  # upper edge of the last bucket
DEFAULT_INPUT_EDGES = tuple(2**k for k in range(8, 18))  # 256 ... 128k prompt tokens
DEFAULT_OUTPUT_EDGES = (64, 256, 1024, 4096)
HOURS = 24
DESIGN_QUANTILE = 0.95  # plan for the rate that all but the busiest 5 % of requests arrive under


@dataclass(frozen=True)
class Excluded:
    """Requests left out of the plan: longer than the model's context window, or than every allowed replica's
    KV cache (prompt + output tokens, as a server admits them)."""

    requests: int  # all left out
    share: float  # of the workload's requests
    longest_tokens: int  # the longest prompt + output among them
    kv_limit_tokens: int  # the largest KV cache of any allowed configuration
    reason: str  # each cause with its count, '; '-joined
    context_window_tokens: int = 0  # the model's context window (max_position_embeddings); 0: not recorded
    beyond_context: int = 0  # of ``requests``, those longer than the context window


def without_requests(trace: RequestTrace, drop: NDArray[np.bool_]) -> RequestTrace:
    """``trace`` without the requests where ``drop`` is true, re-based to start at 0."""
    keep = ~np.asarray(drop, dtype=bool)
    arrival = trace.arrival_s[keep]
    hashes = None if trace.hash_ids is None else tuple(h for h, k in zip(trace.hash_ids, keep, strict=True) if k)
    return replace(
        trace,
        arrival_s=arrival - arrival[0] if arrival.size else arrival,
        input_tokens=trace.input_tokens[keep],
        output_tokens=trace.output_tokens[keep],
        hash_ids=hashes,
    )


@dataclass(frozen=True)
class Bucket:
    """Requests whose prompt is in (input_lo, input_hi] and output in (output_lo, output_hi] tokens."""

    input_lo: int
    input_hi: int
    output_lo: int
    output_hi: int
    requests: int
    rate_per_s: float
    input_mean: float
    input_sq_mean: float
    input_p90: float
    output_mean: float
    output_p90: float
    context_max: int = 0  # the longest prompt + output in the bucket: a replica it goes to must hold it

    # The edges go to JSON as the ranges below: the last bucket's upper edge is the OPEN_EDGE sentinel, which
    # JSON would carry as a meaningless 2**62 (and JavaScript would round).
    __json_omit__: ClassVar[tuple[str, ...]] = ("input_lo", "input_hi", "output_lo", "output_hi")
    __json_properties__: ClassVar[tuple[str, ...]] = ("label", "input_tokens", "output_tokens")

    @property
    def label(self) -> str:
        return f"in {_edge(self.input_lo)}–{_edge(self.input_hi)}, out {_edge(self.output_lo)}–{_edge(self.output_hi)}"

    @property
    def input_tokens(self) -> tuple[int, int | None]:
        """The prompt lengths of the bucket, (lower, upper]; None: no upper edge."""
        return self.input_lo, None if self.input_hi == OPEN_EDGE else self.input_hi

    @property
    def output_tokens(self) -> tuple[int, int | None]:
        """The output lengths of the bucket, (lower, upper]; None: no upper edge."""
        return self.output_lo, None if self.output_hi == OPEN_EDGE else self.output_hi


def _edge(tokens: int) -> str:
    if tokens == OPEN_EDGE:
        return "∞"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}k"
    return str(tokens)


def bucketize(
    trace: RequestTrace,
    input_edges: Sequence[int] = DEFAULT_INPUT_EDGES,
    output_edges: Sequence[int] = DEFAULT_OUTPUT_EDGES,
) -> tuple[Bucket, ...]:
    """Group the trace's requests by length; the rate of a bucket is its count over the trace's span."""
    if len(trace) < 2 or trace.duration_s <= 0:
        raise ConfigError(f"trace {trace.name!r} needs at least two requests over a positive span to give a rate")
    for name, edges in (("input", input_edges), ("output", output_edges)):
        if any(e < 1 for e in edges) or list(edges) != sorted(set(edges)):
            raise ConfigError(
                f"{name}_edges must be increasing positive token counts, got {list(edges)}", field=f"{name}_edges"
            )
    span = trace.duration_s * len(trace) / (len(trace) - 1)  # n arrivals over n − 1 gaps: the mean rate is n/span
    inp = trace.input_tokens.astype(np.float64)
    out = trace.output_tokens.astype(np.float64)
    in_e = [0, *input_edges, OPEN_EDGE]
    out_e = [0, *output_edges, OPEN_EDGE]
    in_idx = np.searchsorted(np.array(in_e[1:-1]), inp, side="left")
    out_idx = np.searchsorted(np.array(out_e[1:-1]), out, side="left")
    buckets = []
    for i in range(len(in_e) - 1):
        for j in range(len(out_e) - 1):
            mask = (in_idx == i) & (out_idx == j)
            n = int(mask.sum())
            if not n:
                continue
            bi, bo = np.maximum(inp[mask], 1.0), out[mask]
            buckets.append(
                Bucket(
                    input_lo=in_e[i],
                    input_hi=in_e[i + 1],
                    output_lo=out_e[j],
                    output_hi=out_e[j + 1],
                    requests=n,
                    rate_per_s=n / span,
                    input_mean=float(bi.mean()),
                    input_sq_mean=float((bi**2).mean()),
                    input_p90=float(np.percentile(bi, 90)),
                    output_mean=float(bo.mean()),
                    output_p90=float(np.percentile(bo, 90)),
                    context_max=int((inp[mask] + bo).max()),
                )
            )
    return tuple(buckets)


def size_classes(buckets: Sequence[Bucket]) -> SizeClass:
    """One size class per bucket, in order: the length moments the capacity model takes."""
    return SizeClass(
        input_mean=np.array([b.input_mean for b in buckets]),
        input_sq_mean=np.array([b.input_sq_mean for b in buckets]),
        input_p90=np.array([b.input_p90 for b in buckets]),
        output_mean=np.array([b.output_mean for b in buckets]),
    )


def daily_curve(
    trace: RequestTrace, load_curve: Sequence[float] | None = None, peak_to_trough: float = 3.0
) -> tuple[tuple[float, ...], str]:
    """Rate multipliers for the 24 hours of a day, and where they come from.

    ``load_curve`` (24 values) is used as given. Otherwise a trace that spans a day gives its own hourly
    counts ÷ the mean; a shorter one is taken as the daily mean of a sinusoid with ``peak_to_trough``
    (:func:`chipfleet.traces.synthetic.diurnal_rate_per_s`, peak at 12:00) — an assumption, not a measurement.
    """
    if load_curve is not None:
        values = tuple(float(v) for v in load_curve)
        if len(values) != HOURS or any(not (math.isfinite(v) and v >= 0) for v in values) or max(values) <= 0:
            raise ConfigError(
                f"load_curve needs {HOURS} non-negative multipliers, one per hour; got {len(values)}",
                field="load_curve",
            )
        return values, "given"
    if trace.duration_s >= HOURS * 3600 * 0.99:
        hours = np.minimum((trace.arrival_s // 3600).astype(int) % HOURS, HOURS - 1)
        counts = np.bincount(hours, minlength=HOURS).astype(float)
        return tuple(float(v) for v in counts / counts.mean()), f"hourly arrivals of {trace.name}"
    if not (math.isfinite(peak_to_trough) and peak_to_trough >= 1):
        raise ConfigError(f"peak_to_trough must be >= 1 (1 = flat), got {peak_to_trough}", field="peak_to_trough")
    mids = (np.arange(HOURS, dtype=np.float64) + 0.5) * 3600.0
    rates = diurnal_rate_per_s(mids, 1.0, peak_to_trough, 86_400.0, 43_200.0)
    return (
        tuple(float(v) for v in rates),
        f"sinusoid with peak/trough {peak_to_trough:g} around the workload's rate (an assumed shape)",
    )


def mixture(buckets: Sequence[Bucket], weights: NDArray[np.float64]) -> SizeClass:
    """One size class for requests drawn from ``buckets`` in proportion to ``weights``: mixed moments, and
    the weighted 90th percentile of the buckets' p90 prompts as the mixture's p90 prompt."""
    p = weights / weights.sum()
    p90s = np.array([b.input_p90 for b in buckets])
    order = np.argsort(p90s)
    at = min(int(np.searchsorted(np.cumsum(p[order]), 0.9 - 1e-9)), len(order) - 1)
    return SizeClass(
        input_mean=np.array([p @ np.array([b.input_mean for b in buckets])]),
        input_sq_mean=np.array([p @ np.array([b.input_sq_mean for b in buckets])]),
        input_p90=np.array([p90s[order][at]]),
        output_mean=np.array([p @ np.array([b.output_mean for b in buckets])]),
    )


def default_peak_window_s(trace: RequestTrace, slo: ServeSLO) -> float:
    """``max(5 × the TTFT SLO, 100 ÷ the mean rate)``: our choice, reasoned, not fitted.

    A burst shorter than the TTFT SLO queues and clears within it; one several times longer builds a backlog
    that pushes requests past it, so the fleet is sized for the rate over windows a few SLOs long. Windows
    hold at least 100 requests on average, so that Poisson noise (which the capacity model already counts)
    moves a window's rate by no more than about 10 %.
    """
    return max(5.0 * slo.ttft_p90_s, 100.0 / trace.rate_per_s if trace.rate_per_s > 0 else 0.0)


def peak_factor(trace: RequestTrace, window_s: float, quantile: float = DESIGN_QUANTILE) -> float:
    """The design rate ÷ the mean rate: the request-weighted ``quantile`` of the arrival rate over windows of
    ``window_s`` seconds (so no more than 1 − ``quantile`` of the requests arrive while the rate is higher).

    1 when ``window_s`` is 0 or the trace spans fewer than two whole windows."""
    if window_s < 0:
        raise ConfigError(
            f"peak_window_s must be >= 0 (0 plans for the mean rate), got {window_s:g}", field="peak_window_s"
        )
    if window_s == 0 or trace.duration_s < 2 * window_s:
        return 1.0
    whole = int(trace.duration_s // window_s)
    counts = np.bincount((trace.arrival_s // window_s).astype(int), minlength=whole)[:whole].astype(float)
    order = np.sort(counts)
    cum = np.cumsum(order)
    at = order[int(np.searchsorted(cum, quantile * cum[-1]))]
    return max(1.0, float(at / counts.mean()))


LENGTH_CAP_ADVICE = (
    "or leave these requests out: drop them from the trace, or, for a synthetic workload, cap its length "
    "distributions with max= (e.g. lognormal:mean=1500,sigma=1,max=8k, where k = 1024 tokens)"
)
