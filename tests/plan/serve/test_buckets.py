"""Buckets of requests by length, the busy-window rate, the daily curve, and requests left out."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.plan.serve.buckets import (
    LENGTH_CAP_ADVICE,
    Excluded,
    bucketize,
    daily_curve,
    peak_factor,
    without_requests,
)
from chipfleet.serialize import to_jsonable
from chipfleet.traces import LognormalLength, RequestTrace, parse_length_dist

from .fleets import buckets_at, poisson_trace


def test_bucketize_counts_and_rates() -> None:
    trace = poisson_trace()
    buckets = bucketize(trace)
    assert sum(b.requests for b in buckets) == len(trace)
    span = trace.duration_s * len(trace) / (len(trace) - 1)
    assert sum(b.rate_per_s for b in buckets) == pytest.approx(len(trace) / span)
    for b in buckets:
        assert b.input_lo < b.input_mean <= b.input_hi and b.output_lo < b.output_mean <= b.output_hi
        assert b.input_sq_mean >= b.input_mean**2
    with pytest.raises(ConfigError, match="increasing") as err:
        bucketize(trace, input_edges=(1024, 512))
    assert err.value.field == "input_edges"


def test_a_bucket_in_json_has_its_ranges_and_no_sentinel_edge() -> None:
    b = buckets_at([2.0])[0]
    d = to_jsonable(b)
    assert d["input_tokens"] == [0, 256] and d["output_tokens"] == [0, None]  # the open edge is null, not 2**62
    assert d["label"] == b.label and d["rate_per_s"] == 2.0 and d["input_sq_mean"] == b.input_sq_mean
    assert not {"input_lo", "input_hi", "output_lo", "output_hi"} & set(d)


def test_peak_factor() -> None:
    steady = poisson_trace(rate=20.0, duration_s=600.0)
    assert 1.0 <= peak_factor(steady, 30.0) < 1.15  # Poisson: only noise
    assert peak_factor(steady, 0.0) == 1.0
    # A trace whose second half arrives at four times the rate of its first.
    calm, busy = poisson_trace(rate=5.0, duration_s=300.0), poisson_trace(rate=20.0, duration_s=300.0, seed=1)
    arrivals = np.concatenate([calm.arrival_s, 300.0 + busy.arrival_s])
    bursty = RequestTrace("bursty", arrivals, np.full(arrivals.size, 100), np.full(arrivals.size, 10))
    assert peak_factor(bursty, 30.0) > 1.4
    with pytest.raises(ConfigError, match="peak_window_s must be >= 0") as err:
        peak_factor(steady, -1.0)
    assert err.value.field == "peak_window_s"


def test_daily_curve() -> None:
    values, source = daily_curve(poisson_trace(), peak_to_trough=3.0)
    assert len(values) == 24 and max(values) / min(values) == pytest.approx(3.0, rel=0.02)
    assert np.mean(values) == pytest.approx(1.0, rel=0.01) and "assumed" in source
    given_curve = [1.0] * 23 + [2.0]
    assert daily_curve(poisson_trace(), given_curve)[0][-1] == 2.0
    with pytest.raises(ConfigError, match="24") as err:
        daily_curve(poisson_trace(), [1.0] * 23)
    assert err.value.field == "load_curve"
    with pytest.raises(ConfigError) as err:
        daily_curve(poisson_trace(), peak_to_trough=0.5)
    assert err.value.field == "peak_to_trough"


def test_without_requests_rebases_the_trace() -> None:
    trace = poisson_trace(duration_s=60.0)
    drop = np.zeros(len(trace), dtype=bool)
    drop[:3] = True
    kept = without_requests(trace, drop)
    assert len(kept) == len(trace) - 3 and kept.arrival_s[0] == 0.0
    assert list(kept.input_tokens) == list(trace.input_tokens[3:])


def test_excluded_in_json_is_its_fields() -> None:
    x = Excluded(requests=3, share=0.01, longest_tokens=9000, kv_limit_tokens=8000, reason="why")
    assert to_jsonable(x) == {
        "requests": 3, "share": 0.01, "longest_tokens": 9000, "kv_limit_tokens": 8000, "reason": "why",
        "context_window_tokens": 0, "beyond_context": 0,
    }  # fmt: skip


def test_the_length_cap_advice_is_a_form_the_workload_takes() -> None:
    """The advice speaks the library's language (no CLI flag); its example parses, and means 8,192 tokens."""
    assert "max=8k" in LENGTH_CAP_ADVICE and "--" not in LENGTH_CAP_ADVICE
    example = LENGTH_CAP_ADVICE.split("e.g. ")[1].split(",")
    dist = parse_length_dist(",".join(example[:3]).split(" ")[0])
    assert isinstance(dist, LognormalLength) and dist.max_tokens == 8192
