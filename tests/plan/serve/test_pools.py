"""Prefill and decode pool candidates: their capacities follow the SLOs, the KV transfer and the KV cache."""

from __future__ import annotations

import itertools

import numpy as np

from chipfleet.catalog import Catalog, Precision
from chipfleet.perf.batching import SizeClass
from chipfleet.perf.hardware import hardware_for
from chipfleet.perf.iteration import IterationModel
from chipfleet.plan.serve.buckets import bucketize
from chipfleet.plan.serve.pools import DECODE, PREFILL, decode_capacity, pool_candidates, prefill_capacity
from chipfleet.plan.serve.spec import ServeConstraints, ServeSLO
from chipfleet.traces import poisson
from chipfleet.workloads import get_model

from .fleets import LONG_8B

LOAD = SizeClass(
    input_mean=np.array([8192.0]), input_sq_mean=np.array([8192.0**2]), input_p90=np.array([8192.0]),
    output_mean=np.array([256.0]),
)  # fmt: skip


def _iteration(cat: Catalog) -> IterationModel:
    return IterationModel(get_model(LONG_8B), hardware_for(cat, "p5.4xlarge"), 1, Precision.BF16)


def test_decode_capacity_grows_with_the_tpot_slo_and_vanishes_below_one_sequence(cat: Catalog) -> None:
    it = _iteration(cat)
    caps = [decode_capacity(it, np.array([256.0]), 200_000, LOAD, slo)[0][0] for slo in (0.008, 0.012, 0.03, 0.1)]
    assert all(b >= a for a, b in itertools.pairwise(caps)) and caps[-1] > caps[0]
    alone = it.times(np.array([1.0]), np.array([8192.0]), np.zeros(1), np.zeros(1), np.zeros(1))[0][0]
    assert decode_capacity(it, np.array([256.0]), 200_000, LOAD, 0.5 * alone)[0][0] == 0.0


def test_decode_capacity_is_held_by_the_kv_cache(cat: Catalog) -> None:
    it = _iteration(cat)
    roomy = decode_capacity(it, np.array([256.0]), 2_000_000, LOAD, 0.1)[0][0]
    tight = decode_capacity(it, np.array([256.0]), 40_000, LOAD, 0.1)[0][0]
    assert 0 < tight < roomy
    # Little's law at the operating point: the sequences held fit the cache (each E[I] + E[O]/2 tokens)
    tpot = decode_capacity(it, np.array([256.0]), 40_000, LOAD, 0.1)[2][0]
    assert tight * (256 - 1) * tpot * (8192 + 128) <= 40_000


def test_prefill_capacity_shrinks_as_the_transfer_takes_more_of_the_ttft_slo(cat: Catalog) -> None:
    trace = poisson(5.0, duration_s=120, input_dist="fixed:8192", output_dist="fixed:256", rng=np.random.default_rng(1))
    buckets = bucketize(trace)
    slo = ServeSLO(2.0, 0.05)
    prefill, decode = pool_candidates(
        get_model(LONG_8B), buckets, slo, cat, ServeConstraints(instances=("p5.4xlarge",))
    )
    assert [c.role for c in prefill] == [PREFILL] and [c.role for c in decode] == [DECODE]
    budgets = [2.0, 1.0, 0.6, 0.45]
    caps = [float(prefill_capacity(prefill[0], np.array([b]))[0][0]) for b in budgets]
    assert all(a >= b for a, b in itertools.pairwise(caps)) and caps[0] > caps[-1] > 0
    # a budget below the prompt's own prefill pass leaves no capacity
    assert prefill_capacity(prefill[0], np.array([1e-4]))[0][0] == 0.0
    # capacity stays below the worker's full-chunk throughput: a prefill pass of the prompt per request at least
    it = _iteration(cat)
    one_pass = it.times(np.zeros(1), np.zeros(1), np.array([8192.0]), np.array([8192.0**2 / 2]), np.ones(1))[0][0]
    assert caps[0] < 1.0 / one_pass * 1.5
