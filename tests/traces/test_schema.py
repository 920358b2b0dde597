"""RequestTrace and JobTrace: invariants enforced at construction, and helpers that return new traces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.traces import JobTrace, RequestTrace


def make(n: int = 5, hashes: bool = True) -> RequestTrace:
    return RequestTrace(
        name="t",
        arrival_s=np.arange(n, dtype=float) * 2.0,
        input_tokens=np.arange(n) + 10,
        output_tokens=np.arange(n) + 1,
        hash_ids=tuple((i, i + 1) for i in range(n)) if hashes else None,
        block_tokens=16 if hashes else None,
        source="test",
        license="none",
    )


def test_arrays_are_typed_copies_and_read_only() -> None:
    arrival = np.array([0, 1, 2])
    t = RequestTrace("t", arrival, [1, 2, 3], [1, 1, 1])
    assert t.arrival_s.dtype == np.float64 and t.input_tokens.dtype == np.int64
    arrival[1] = 99
    assert t.arrival_s[1] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        t.arrival_s[0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("arrival", "inp", "out", "message"),
    [
        ([0, 2, 1], [1, 1, 1], [1, 1, 1], "sorted ascending"),
        ([1, 2, 3], [1, 1, 1], [1, 1, 1], "must start at 0"),
        ([0, 1], [1, 1, 1], [1, 1, 1], "one entry per request"),
        ([0, 1, 2], [1, -1, 1], [1, 1, 1], "input_tokens must be between 1 and"),
        ([0, 1, 2], [1, 0, 1], [1, 1, 1], "a prompt has at least one token"),
        ([0, 1, 2], [1, 2e7, 1], [1, 1, 1], "input_tokens must be whole numbers of at most 10,000,000"),
        ([0, 1, 2], [1, 1.5, 1], [1, 1, 1], "must be whole numbers"),
        ([0, 1, 4e8], [1, 1, 1], [1, 1, 1], "10-year"),
        ([0, 1, 2], [1, 1, 1], [1, 0, 1], "output_tokens must be between 1 and"),
        ([0, np.nan, 2], [1, 1, 1], [1, 1, 1], "NaN or infinite"),
    ],
)
def test_request_invariants(arrival: list[float], inp: list[int], out: list[int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RequestTrace("bad", np.array(arrival), np.array(inp), np.array(out))


def test_hash_ids_must_match_and_block_tokens_positive() -> None:
    with pytest.raises(ConfigError, match="one tuple per request"):
        RequestTrace("bad", [0.0], [1], [1], hash_ids=((1,), (2,)), block_tokens=4)
    with pytest.raises(ConfigError, match="block_tokens"):
        RequestTrace("bad", [0.0], [1], [1], hash_ids=((1,),), block_tokens=0)
    t = RequestTrace("ok", [0.0], [1], [1], hash_ids=[[np.int64(3), 4]], block_tokens=4)  # type: ignore[arg-type]
    assert t.hash_ids == ((3, 4),) and type(t.hash_ids[0][0]) is int


def test_duration_rate_and_describe() -> None:
    t = make()
    assert len(t) == 5
    assert t.duration_s == t.span_s == 8.0
    assert t.rate_per_s == 0.5
    d = t.describe()
    assert d["count"] == 5 and d["duration_s"] == 8.0 and d["rate_per_s"] == 0.5
    assert d["input_tokens_mean"] == 12.0 and d["input_tokens_median"] == 12.0
    assert d["output_tokens_max"] == 5.0 and d["output_tokens_p99"] == pytest.approx(4.96)
    assert d["name"] == "t" and d["kind"] == "requests" and d["skipped_rows"] == 0


def test_head_and_slice_rebase_and_keep_hashes() -> None:
    t = make()
    h = t.head(2)
    assert len(h) == 2 and h.arrival_s.tolist() == [0.0, 2.0] and h.hash_ids == ((0, 1), (1, 2))
    s = t.slice(2, 4)
    assert s.arrival_s.tolist() == [0.0, 2.0]
    assert s.input_tokens.tolist() == [12, 13] and s.hash_ids == ((2, 3), (3, 4))
    assert s.block_tokens == 16 and s.source == "test"
    assert t.slice(3).input_tokens.tolist() == [10, 11, 12]  # one argument: like range(stop)
    assert len(t.slice(-2, 5)) == 2
    assert len(t.head(100)) == 5
    for empty in (0, -1):  # an empty workload has nothing to simulate: a clean error, not an empty trace
        with pytest.raises(ConfigError, match="must be a whole number >= 1"):
            t.head(empty)
    assert len(t) == 5  # unchanged


def test_scale_rate() -> None:
    t = make(hashes=False)
    fast = t.scale_rate(2.0)
    assert fast.arrival_s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert fast.rate_per_s == pytest.approx(2 * t.rate_per_s)
    assert t.scale_rate(0.5).duration_s == 16.0
    assert np.array_equal(fast.input_tokens, t.input_tokens)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="rate factor"):
            t.scale_rate(bad)


def test_job_trace() -> None:
    j = JobTrace("j", [0.0, 10.0, 30.0], [1, 8, 2], [100.0, 50.0, 10.0], source="s", license="l")
    assert len(j) == 3 and j.span_s == 30.0 and j.rate_per_s == pytest.approx(2 / 30)
    assert j.chip_seconds == 100 + 400 + 20
    d = j.describe()
    assert d["kind"] == "jobs" and d["chips_max"] == 8.0 and d["chip_hours"] == pytest.approx(520 / 3600)
    assert j.slice(1, 3).submit_s.tolist() == [0.0, 20.0]
    assert j.head(1).chips.tolist() == [1]
    assert j.scale_rate(10).submit_s.tolist() == [0.0, 1.0, 3.0]
    assert j.scale_rate(10).duration_s.tolist() == [100.0, 50.0, 10.0]
    with pytest.raises(ConfigError, match="chips must be between 1 and"):
        JobTrace("bad", [0.0], [0], [1.0])
    with pytest.raises(ConfigError, match="duration_s must be finite"):
        JobTrace("bad", [0.0], [1], [-1.0])
    with pytest.raises(ConfigError, match="10 years"):
        JobTrace("bad", [0.0], [1], [1e300])
    with pytest.raises(ConfigError, match="chips must be whole numbers of at most 1,000,000"):
        JobTrace("bad", [0.0], [1e30], [1.0])
    with pytest.raises(ConfigError, match="jobs to keep"):
        j.head(0)
    with pytest.raises(ConfigError, match="10-year"):  # a rate scale near 0 stretches the span past the bound
        j.scale_rate(1e-9)
    with pytest.raises(ConfigError, match="sorted"):
        JobTrace("bad", [0.0, 5.0, 1.0], [1, 1, 1], [1.0, 1.0, 1.0])
