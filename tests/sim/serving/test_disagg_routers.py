"""Routers of prefill and decode workers: what each picks from a pool's view, and their registry."""

from __future__ import annotations

import numpy as np
import pytest

from chipfleet.exceptions import UnknownNameError
from chipfleet.sim.serving import DISAGG_ROUTERS, PoolView, make_disagg_router


def _view(outstanding: list[int], tokens: list[int], free: list[int]) -> PoolView:
    return PoolView(
        outstanding=np.array(outstanding, dtype=np.int64),
        outstanding_tokens=np.array(tokens, dtype=np.int64),
        kv_capacity_tokens=np.full(len(free), 1000, dtype=np.int64),
        kv_free_tokens=np.array(free, dtype=np.int64),
    )


RNG = np.random.default_rng(0)


def test_the_registry_lists_each_router_with_a_description() -> None:
    assert DISAGG_ROUTERS.names() == ["kv-aware", "load-aware", "round-robin"]
    assert all(e.description for e in DISAGG_ROUTERS.entries())
    with pytest.raises(UnknownNameError):
        make_disagg_router("nearest")


def test_load_aware_prefills_on_the_fewest_tokens_and_decodes_on_the_fewest_requests() -> None:
    r = make_disagg_router("Load-Aware")
    view = _view([1, 5, 2], [9000, 100, 4000], [10, 900, 500])
    assert r.prefill(10, 10, view, RNG) == 1
    assert r.decode(10, 10, view, RNG) == 0


def test_kv_aware_decodes_where_most_kv_is_free_ties_broken_by_load() -> None:
    r = make_disagg_router("kv-aware")
    assert r.decode(10, 10, _view([1, 5, 2], [0, 0, 0], [10, 900, 500]), RNG) == 1
    assert r.decode(10, 10, _view([4, 5, 2], [0, 0, 0], [900, 900, 500]), RNG) == 0
    assert r.decode(10, 10, _view([4, 3, 2], [0, 0, 0], [900, 900, 500]), RNG) == 1
    assert r.prefill(10, 10, _view([0, 0], [50, 40], [0, 0]), RNG) == 1


def test_round_robin_takes_each_worker_in_turn_whatever_its_load() -> None:
    r = make_disagg_router("round-robin")
    view = _view([9, 0, 0], [9, 0, 0], [0, 9, 9])
    assert [r.prefill(1, 1, view, RNG) for _ in range(4)] == [0, 1, 2, 0]
    assert [r.decode(1, 1, view, RNG) for _ in range(2)] == [0, 1]
