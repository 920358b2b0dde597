"""Mixed-fleet results as JSON: the serializer writes both sides, the books and the cost note."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.serialize import dumps
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.mixed import MixedOptions, simulate_mixed
from chipfleet.sim.mixed.results import MIXED_COST_NOTE
from chipfleet.traces.schema import JobTrace, RequestTrace
from chipfleet.workloads import get_model


def test_mixed_result_json(cat: Catalog) -> None:
    n = 60
    req = RequestTrace(
        name="steady", arrival_s=np.arange(n, dtype=float) * 5.0, input_tokens=np.full(n, 512, dtype=np.int64),
        output_tokens=np.full(n, 64, dtype=np.int64), source="generated in the test", license="n/a", skipped_rows=0,
    )  # fmt: skip
    jobs = JobTrace(name="two", submit_s=np.zeros(2), chips=np.array([8, 4]), duration_s=np.full(2, 200.0))
    res = simulate_mixed(get_model("llama-3-8b"), req, jobs, FleetSpec.parse("p4d.24xlarge:3"), cat,
                         sharing="partition", options=MixedOptions(control_interval_s=30.0), until_s=300.0)  # fmt: skip
    d = json.loads(dumps(res))
    assert d["cost_note"] == MIXED_COST_NOTE == res.cost_note
    assert "histograms" not in d["serve"] and "finish_s" not in d["train"]
    assert d["train"]["completed"] == res.train.completed and [s["instance"] for s in d["shares"]] == ["p4d.24xlarge"]
    # Carbon of the whole fleet: its energy at the region's grid intensity (one region here).
    price = cat.instance("p4d.24xlarge").price(None)
    assert price is not None
    grid = cat.region(price.region).grid_gco2_per_kwh
    assert grid is not None and res.fleet_co2_kg == pytest.approx(res.fleet_energy_kwh * grid / 1000)
    assert d["fleet_co2_kg"] == pytest.approx(res.fleet_co2_kg)
    # A control interval with no first token is NaN in Python and null in JSON.
    assert len(d["ttft_p90_over_time"]) == len(res.ttft_p90_over_time) == 10
    for (t, v), (jt, jv) in zip(res.ttft_p90_over_time, d["ttft_p90_over_time"], strict=True):
        assert jt == t and (jv is None if math.isnan(v) else jv == pytest.approx(v))
