"""The throughput matrix: how fast each instance type runs a trace job relative to the reference type."""

from __future__ import annotations

import json
import math

import pytest

from chipfleet.catalog import Catalog
from chipfleet.exceptions import ConfigError, UnknownNameError
from chipfleet.serialize import to_jsonable
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.training.simulate import run_cluster
from chipfleet.sim.training.throughput import (
    ReferenceWorkload,
    ThroughputMatrix,
    throughput_matrix,
    tokens_per_s_per_chip,
    trainable_matrix,
)

from .jobs import jobs


def test_twice_as_fast_takes_half_the_time(cat: Catalog) -> None:
    m = ThroughputMatrix.from_relative({"p4d.24xlarge": 1.0, "p5.48xlarge": 2.0})
    assert m.reference == "p4d.24xlarge"
    assert m.run_time_s(100.0, "p5.48xlarge") == 50.0
    for fleet, want in (("p4d.24xlarge:1", 100.0), ("p5.48xlarge:1", 50.0)):
        pool = Pool.build(cat, FleetSpec.parse(fleet))
        res = run_cluster(jobs([0], [8], [100]), pool, "fifo", m)
        assert res.finish_s.tolist() == [want]


def test_modelled_matrix_default_reference_is_slowest_accelerator(cat: Catalog) -> None:
    types = ["p5.48xlarge", "trn1.32xlarge", "g6e.48xlarge"]
    m = throughput_matrix(cat, types)
    assert m.types == tuple(types)
    slowest = min(m.speeds, key=lambda s: s.tokens_per_s_per_chip or math.inf)
    assert m.reference == slowest.instance and m.relative(m.reference) == 1.0
    wl = ReferenceWorkload()
    assert m.workload == wl and wl.global_batch == 1024
    for s in m.speeds:
        tps, n, _ = tokens_per_s_per_chip(cat, s.instance, wl)
        assert s.tokens_per_s_per_chip == tps and s.modelled_instances == n
        assert s.relative_speed == pytest.approx(tps / (slowest.tokens_per_s_per_chip or 1.0))
        # D seconds on the reference take D · speed_ref / speed_X on X.
        assert m.run_time_s(1000.0, s.instance) == pytest.approx(1000.0 * (slowest.tokens_per_s_per_chip or 0) / tps)
    # H100 is faster per chip than Trainium1 on this workload.
    assert m.relative("p5.48xlarge") > m.relative("trn1.32xlarge")
    # A pure function of its inputs, with no cache: the same inputs give an equal matrix.
    assert throughput_matrix(cat, types) == m
    assert throughput_matrix(cat, types, reference="p5.48xlarge") is not m
    assert throughput_matrix(cat, types, reference="p5.48xlarge").relative("p5.48xlarge") == 1.0
    json.dumps(to_jsonable(m), allow_nan=False)


def test_workload_that_needs_several_instances(cat: Catalog) -> None:
    # One g6e.xlarge (one 48 GB L40S) cannot hold llama-2-7b training state; a few can.
    tps, n, split = tokens_per_s_per_chip(cat, "g6e.xlarge", ReferenceWorkload())
    assert n > 1 and tps > 0 and split


def test_matrix_misses(cat: Catalog) -> None:
    m = ThroughputMatrix.from_relative({"p4d.24xlarge": 1.0})
    with pytest.raises(UnknownNameError):
        m.relative("p5.48xlarge")
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"))
    with pytest.raises(ConfigError, match=r"no speed for p5\.48xlarge"):
        run_cluster(jobs([0], [1], [1]), pool, "fifo", m)
    assert ThroughputMatrix.from_relative({"a": 2.0, "b": 4.0}).relative("b") == 2.0
    with pytest.raises(ConfigError):
        ThroughputMatrix.from_relative({"p4d.24xlarge": 0.0})


def test_trainable_matrix_leaves_out_types_that_cannot_train(cat: Catalog) -> None:
    """A TPU v4-8 slice has no split of the reference workload that fits: in a mixed fleet it only serves."""
    with pytest.raises(ConfigError, match="no valid split"):
        throughput_matrix(cat, ["tpu-v4-8", "p4d.24xlarge"])
    m = trainable_matrix(cat, ["tpu-v4-8", "p4d.24xlarge", "trn1.32xlarge"])
    assert m.types == ("p4d.24xlarge", "trn1.32xlarge")
    assert m == throughput_matrix(cat, ["p4d.24xlarge", "trn1.32xlarge"])
    with pytest.raises(ConfigError, match="can train the reference workload") as err:
        trainable_matrix(cat, ["tpu-v4-8"])
    assert err.value.field == "fleet"
