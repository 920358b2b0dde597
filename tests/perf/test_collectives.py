"""Ring collectives against the α–β formulas of nccl-tests doc/PERFORMANCE.md (MODELING.md, "Parallelism").

all-reduce      2·(n−1)/n · S/B + 2·(n−1)·α
reduce-scatter  (n−1)/n · S/B + (n−1)·α
all-gather      (n−1)/n · S/B + (n−1)·α
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipfleet.perf.collectives import Collective, Link, collective_time_s

# NVLink4-like link after a 0.8 collective efficiency (450 GB/s × 0.8) and a 2 µs hop.
LINK = Link(bytes_per_s=360e9, latency_s=2e-6)
REL = 1e-12  # closed-form arithmetic: only float rounding may differ

ranks = st.integers(min_value=2, max_value=1024)
sizes = st.floats(min_value=1.0, max_value=1e12, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(("n", "size"), [(2, 1e6), (8, 256e6), (16, 1e9), (512, 4e9)])
def test_all_reduce_is_the_ring_formula(n: int, size: float) -> None:
    expected = 2 * (n - 1) / n * size / LINK.bytes_per_s + 2 * (n - 1) * LINK.latency_s
    assert collective_time_s(Collective.ALL_REDUCE, n, size, LINK) == pytest.approx(expected, rel=REL)


def test_all_reduce_worked_example() -> None:
    # 8 ranks, 1 GB at 360 GB/s, 2 µs: 2·7/8·1e9/360e9 + 14·2e-6 = 4.861111 ms + 28 µs = 4.889111 ms.
    assert collective_time_s(Collective.ALL_REDUCE, 8, 1e9, LINK) == pytest.approx(4.889111111e-3, rel=1e-9)


@pytest.mark.parametrize("kind", [Collective.REDUCE_SCATTER, Collective.ALL_GATHER])
@given(n=ranks, size=sizes)
@settings(max_examples=40, deadline=None)
def test_reduce_scatter_and_all_gather_are_half_an_all_reduce(kind: Collective, n: int, size: float) -> None:
    # An all-reduce is a reduce-scatter followed by an all-gather: each half of both the β and the α term.
    half = collective_time_s(kind, n, size, LINK)
    assert half == pytest.approx((n - 1) / n * size / LINK.bytes_per_s + (n - 1) * LINK.latency_s, rel=REL)
    assert 2 * half == pytest.approx(collective_time_s(Collective.ALL_REDUCE, n, size, LINK), rel=REL)


def test_bandwidth_term_of_reduce_scatter_is_half_of_all_reduce() -> None:
    # With zero latency only the bandwidth term remains: (n−1)/n·S/B vs 2·(n−1)/n·S/B.
    link = Link(bytes_per_s=100e9, latency_s=0.0)
    rs = collective_time_s(Collective.REDUCE_SCATTER, 4, 8e9, link)
    ag = collective_time_s(Collective.ALL_GATHER, 4, 8e9, link)
    ar = collective_time_s(Collective.ALL_REDUCE, 4, 8e9, link)
    assert rs == pytest.approx(0.06, rel=REL)  # 3/4 · 8e9 / 100e9
    assert ag == pytest.approx(0.06, rel=REL)
    assert ar == pytest.approx(0.12, rel=REL)


def test_point_to_point_is_one_transfer_and_one_hop() -> None:
    assert collective_time_s(Collective.P2P, 2, 36e6, LINK) == pytest.approx(36e6 / 360e9 + 2e-6, rel=REL)


@pytest.mark.parametrize("kind", list(Collective))
def test_one_rank_or_no_bytes_costs_nothing(kind: Collective) -> None:
    assert collective_time_s(kind, 1, 1e9, LINK) == 0.0
    assert collective_time_s(kind, 8, 0.0, LINK) == 0.0


@pytest.mark.parametrize("kind", list(Collective))
@given(n=ranks, a=sizes, b=sizes)
@settings(max_examples=40, deadline=None)
def test_monotonic_in_bytes(kind: Collective, n: int, a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert collective_time_s(kind, n, small, LINK) <= collective_time_s(kind, n, large, LINK)


@given(n=st.integers(min_value=2, max_value=1023), size=sizes)
@settings(max_examples=40, deadline=None)
def test_all_reduce_grows_with_ranks(n: int, size: float) -> None:
    # 2(n−1)/n and 2(n−1)α both increase with n.
    assert collective_time_s(Collective.ALL_REDUCE, n, size, LINK) <= collective_time_s(
        Collective.ALL_REDUCE, n + 1, size, LINK
    )
