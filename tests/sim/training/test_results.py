"""Training results as JSON: the one serializer writes each record's attributes (no hand-written key lists)."""

from __future__ import annotations

import json

import numpy as np

from chipfleet.catalog import Catalog
from chipfleet.serialize import dumps, to_jsonable
from chipfleet.sim.fleet import FleetSpec, Pool
from chipfleet.sim.training.results import per_job_json
from chipfleet.sim.training.simulate import run_cluster
from chipfleet.sim.training.throughput import ThroughputMatrix
from chipfleet.traces.schema import JobTrace

MIXED = "p5.48xlarge:2,trn1.32xlarge:2"


def synthetic(n: int) -> JobTrace:
    rng = np.random.default_rng(0)
    return JobTrace(
        name="synthetic",
        submit_s=np.concatenate([[0.0], np.cumsum(rng.exponential(60.0, n - 1))]),
        chips=rng.choice([1, 2, 4, 8, 16], n),
        duration_s=rng.uniform(60, 3600, n),
    )


def test_result_json_keys_and_per_job(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse(MIXED))
    m = ThroughputMatrix.from_relative({"p5.48xlarge": 3.0, "trn1.32xlarge": 1.0})
    res = run_cluster(synthetic(50), pool, "sjf-preemptive", m)
    d = json.loads(dumps(res))
    # The keys the CLI's --json always had, plus carbon; per-job arrays only on request.
    assert {"jct_s", "queueing_s", "rejected", "cost_note", "pue_note", "matrix", "unplaceable", "co2_kg"} <= d.keys()
    assert not {"first_start_s", "finish_s", "last_type", "jct", "queueing"} & d.keys()
    assert d["jct_s"]["count"] == res.completed and d["rejected"] == res.rejected
    assert d["unplaceable"]["note"] == res.unplaceable.note
    assert d["matrix"]["reference"] == "trn1.32xlarge"
    assert [t["instance"] for t in d["types"]] == ["p5.48xlarge", "trn1.32xlarge"]
    assert set(d["types"][0]) >= {"busy_chip_s", "allocated_chip_s", "utilization_over_time", "pue", "co2_kg"}
    full = per_job_json(res)
    json.dumps(full, allow_nan=False)
    assert len(full["finish_s"]) == 50 and len(full["last_type"]) == 50
    assert {k: v for k, v in full.items() if k not in ("first_start_s", "finish_s", "last_type")} == to_jsonable(res)
