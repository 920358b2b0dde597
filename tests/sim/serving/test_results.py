"""Serving results as JSON: attribute names as keys, derived cost per token, no histograms, carbon."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chipfleet.catalog import Catalog
from chipfleet.serialize import dumps
from chipfleet.sim.fleet import FleetSpec
from chipfleet.sim.serving import simulate_serving
from chipfleet.traces.schema import RequestTrace
from chipfleet.workloads import get_model


def test_serve_result_json(cat: Catalog) -> None:
    n = 40
    arrival = np.arange(n, dtype=float) * 0.5
    tr = RequestTrace(
        name="steady", arrival_s=arrival, input_tokens=np.full(n, 512, dtype=np.int64),
        output_tokens=np.full(n, 64, dtype=np.int64), source="generated in the test", license="n/a", skipped_rows=0,
    )  # fmt: skip
    res = simulate_serving(get_model("llama-3-8b"), tr, FleetSpec.parse("p5.48xlarge:1"), cat)
    d = json.loads(dumps(res))
    assert "histograms" not in d and res.histograms["ttft"].total == n
    tokens = res.output_tokens_per_s * res.span_s
    assert d["cost_usd_per_million_tokens"] == pytest.approx(res.cost_usd / tokens * 1e6)
    assert d["by_type"][0]["instance"] == "p5.48xlarge" and d["by_type"][0]["completed"] == n
    # One region: the fleet's PUE is that region's; carbon is energy × its grid intensity.
    price = cat.instance("p5.48xlarge").price(None)
    assert price is not None
    node_region = cat.region(price.region)
    assert res.pue == pytest.approx(node_region.pue_ratio)
    assert d["co2_kg"] == pytest.approx(res.energy_kwh * (node_region.grid_gco2_per_kwh or 0) / 1000)
