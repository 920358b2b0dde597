"""Cost, power, energy and carbon; and the JSON shape of the end-to-end estimates.

Formulas (costing.py docstrings, MODELING.md "Energy"): cost = price × instances × hours; energy =
IT power × instances × time × PUE; CO2 = kWh × gCO2e/kWh ÷ 1000; chip power from idle to TDP with the busy
share, plus the host (Cloud Carbon Footprint per-vCPU and per-GB coefficients).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipfleet.catalog import Catalog, Pricing
from chipfleet.economics import (
    estimate_serving,
    estimate_training,
    footprint,
    instance_power_w,
    pick_price,
)
from chipfleet.economics.costing import SPLITWISE_A100_LOAD_POWER, LoadPowerCurve
from chipfleet.exceptions import ConfigError, DoesNotFitError
from chipfleet.perf.inference import ServingConfig
from chipfleet.perf.training import Recompute, TrainingSetup
from chipfleet.serialize import dumps
from chipfleet.workloads import get_model

EXACT = 1e-12

# Cloud Carbon Footprint AWS coefficients (clouds.yaml): 0.74 / 3.5 W per vCPU at 0 / 100 % load, host load
# 50 %, 0.392 W per GB of memory; idle chip power 0.113 × TDP (CCF A100 46 / 407 W); H100 SXM TDP 700 W.
H100_HOST_W = 192 * (0.74 + (3.5 - 0.74) * 0.5) + 2048 * 2**30 / 1e9 * 0.392
H100_IDLE_W = 0.113 * 700


# ===================================================================== price, energy, carbon
def test_cost_is_price_times_instances_times_hours(catalog: Catalog) -> None:
    inst = catalog.instance("test.h100x8")
    price = pick_price(catalog, inst, "test-region", Pricing.ON_DEMAND)
    fp = footprint(catalog, inst, instances=3, time_s=7200.0, busy_fraction=0.5, price=price)
    assert price.usd_per_h == 50.0
    assert fp.cost_usd == pytest.approx(50.0 * 3 * 2.0, rel=EXACT)  # $300


@given(
    instances=st.integers(min_value=1, max_value=512),
    time_s=st.floats(min_value=1.0, max_value=1e8),
    busy=st.floats(min_value=0.0, max_value=1.0),
)
@settings(max_examples=50, deadline=None)
def test_energy_and_carbon_formulas(catalog: Catalog, instances: int, time_s: float, busy: float) -> None:
    inst = catalog.instance("test.h100x8")
    price = pick_price(catalog, inst, "test-region", Pricing.ON_DEMAND)
    fp = footprint(catalog, inst, instances, time_s, busy, price)
    power_w = instance_power_w(catalog, inst).power_w(busy)
    assert fp.avg_power_w == pytest.approx(power_w, rel=EXACT)
    assert fp.cost_usd == pytest.approx(50.0 * instances * time_s / 3600.0, rel=EXACT)
    # energy (kWh) = W × instances × s × PUE ÷ 3.6e6 J/kWh
    assert fp.energy_kwh == pytest.approx(power_w * instances * time_s * 1.2 / 3.6e6, rel=EXACT)
    # CO2 (kg) = kWh × g/kWh ÷ 1000
    assert fp.co2_kg is not None
    assert fp.co2_kg == pytest.approx(fp.energy_kwh * 400 / 1000, rel=EXACT)


def test_energy_worked_example(catalog: Catalog) -> None:
    """One test.h100x8 for one hour at busy 0.5: 8 × (79.1 + (700 − 79.1) × 0.5) + 1269.06 W host
    = 4385.5 W IT; × 1.2 PUE = 5.2626 kWh; × 400 g/kWh = 2.105 kg CO2e."""
    inst = catalog.instance("test.h100x8")
    fp = footprint(catalog, inst, 1, 3600.0, 0.5, pick_price(catalog, inst, "test-region", Pricing.ON_DEMAND))
    it_w = 8 * (H100_IDLE_W + (700 - H100_IDLE_W) * 0.5) + H100_HOST_W
    assert it_w == pytest.approx(4385.457, rel=1e-6)
    assert fp.avg_power_w == pytest.approx(it_w, rel=1e-9)
    assert fp.energy_kwh == pytest.approx(it_w * 1.2 / 1000, rel=1e-9)
    assert fp.co2_kg == pytest.approx(it_w * 1.2 / 1000 * 0.4, rel=1e-9)


def test_region_without_grid_intensity_has_no_co2(catalog: Catalog) -> None:
    inst = catalog.instance("test.h100x8")
    fp = footprint(catalog, inst, 1, 3600.0, 0.5, pick_price(catalog, inst, "test-nogrid", Pricing.SPOT))
    assert fp.co2_kg is None
    assert fp.cost_usd == pytest.approx(20.0, rel=EXACT)
    assert any("CO2 not computed" in a for a in fp.assumptions)


def test_power_model_matches_ccf_coefficients(catalog: Catalog) -> None:
    pm = instance_power_w(catalog, catalog.instance("test.h100x8"))
    assert pm.chips == 8
    assert pm.chip_tdp_w == 700.0
    assert pm.chip_idle_w == pytest.approx(H100_IDLE_W, rel=EXACT)
    assert pm.host_w == pytest.approx(H100_HOST_W, rel=1e-9)


@pytest.mark.parametrize("name", ["test.h100x8", "test.trn1x16"])
@given(busy=st.floats(min_value=-1.0, max_value=2.0), other=st.floats(min_value=-1.0, max_value=2.0))
@settings(max_examples=40, deadline=None)
def test_power_between_idle_and_tdp(catalog: Catalog, name: str, busy: float, other: float) -> None:
    """n·P_idle + P_host ≤ P(u) ≤ n·TDP + P_host for any busy share (clamped to [0, 1]); monotone in u."""
    pm = instance_power_w(catalog, catalog.instance(name))
    lo = pm.chips * pm.chip_idle_w + pm.host_w
    hi = pm.chips * pm.chip_tdp_w + pm.host_w
    p = pm.power_w(busy)
    assert lo * (1 - EXACT) <= p <= hi * (1 + EXACT)
    a, b = sorted((busy, other))
    assert pm.power_w(a) <= pm.power_w(b) * (1 + EXACT)
    assert pm.power_w(0.0) == pytest.approx(lo, rel=EXACT)
    assert pm.power_w(1.0) == pytest.approx(hi, rel=EXACT)


# ===================================================================== price lookup
def test_pick_price_cheapest_region_when_none_given(catalog: Catalog) -> None:
    inst = catalog.instance("test.h100x8")
    assert pick_price(catalog, inst, None, Pricing.ON_DEMAND).region == "test-region"  # $50 < $60
    assert pick_price(catalog, inst, "test-clean", Pricing.ON_DEMAND).usd_per_h == 60.0


def test_pick_price_error_names_instance_and_known_prices(catalog: Catalog) -> None:
    inst = catalog.instance("test.h100x8")
    with pytest.raises(ConfigError) as err:
        pick_price(catalog, inst, "test-region", Pricing.SPOT)
    msg = str(err.value)
    assert "test.h100x8" in msg
    assert "spot" in msg and "test-region" in msg
    for known in ("test-region/on-demand", "test-clean/on-demand", "test-nogrid/spot"):
        assert known in msg
    with pytest.raises(ConfigError, match="reserved"):
        pick_price(catalog, inst, None, Pricing.RESERVED)


# ===================================================================== end-to-end JSON
# The JSON of an estimate is the record itself (chipfleet.serialize): keys are attribute names, nested as the
# objects are, plus the derived properties each class names in __json_properties__.
TRAINING_KEYS = {
    "model",
    "instance",
    "chip",
    "instances",
    "tokens",
    "step",
    "footprint",
    "parallelism_chosen",
    "validated",
    "band",
    "spot_overhead",
    "spot_interruptions",
    "spot_model",
    "caveats",
    "time_s",
    "failure_free_time_s",
    "ranges",
    "assumptions",
}
STEP_KEYS = {
    "parallelism",
    "instances",
    "step_time_s",
    "breakdown",
    "tokens_per_s",
    "mfu",
    "hfu",
    "memory",
    "micro_batches",
    "flops",
    "assumptions",
    "bound",
}
FOOTPRINT_KEYS = {
    "time_s",
    "instances",
    "price",
    "region",
    "avg_power_w",
    "cost_usd",
    "energy_kwh",
    "co2_kg",
    "assumptions",
}
SERVING_KEYS = {
    "model",
    "instance",
    "chip",
    "config",
    "result",
    "footprint",
    "validated",
    "throughput_band",
    "latency_band",
    "cost_usd_per_million_tokens",
    "energy_j_per_token",
    "co2_g_per_million_tokens",
    "ranges",
    "assumptions",
}


def test_estimate_training_json_and_arithmetic(catalog: Catalog) -> None:
    setup = TrainingSetup(model=get_model("llama-2-7b"), seq_len=4096, global_batch=64)
    tokens = 1e9
    est = estimate_training(
        catalog,
        setup,
        "test.h100x8",
        instances=2,
        tokens=tokens,
        fixed={"tp": 8, "pp": 1, "dp": 2, "zero": 1, "recompute": Recompute.SELECTIVE},
        region="test-region",
    )
    d = json.loads(dumps(est))
    assert set(d) == TRAINING_KEYS
    step, fp = d["step"], d["footprint"]
    assert set(step) == STEP_KEYS and set(fp) == FOOTPRINT_KEYS
    assert step["parallelism"] == {
        "tp": 8,
        "pp": 1,
        "dp": 2,
        "cp": 1,
        "ep": 1,
        "zero": 1,
        "micro_batch": est.step.parallelism.micro_batch,
        "recompute": "selective",
        "sequence_parallel": est.step.parallelism.sequence_parallel,
        "virtual_stages": 1,
        "chips": 16,
    }
    assert set(step["breakdown"]) >= {"compute_s", "bubble_s", "dp_comm_s", "tp_comm_s"}
    assert step["bound"] == est.step.bound and step["bound"] in step["breakdown"]
    assert all(isinstance(a, str) for a in d["assumptions"]) and d["assumptions"]
    assert set(step["assumptions"]) | set(fp["assumptions"]) <= set(d["assumptions"])
    # time = ⌈tokens / (B·s)⌉ steps × step time; cost = $50 × 2 instances × hours
    steps = math.ceil(tokens / (64 * 4096))
    assert d["time_s"] == pytest.approx(steps * step["step_time_s"], rel=EXACT)
    assert fp["cost_usd"] == pytest.approx(50.0 * 2 * d["time_s"] / 3600.0, rel=EXACT)
    assert fp["co2_kg"] == pytest.approx(fp["energy_kwh"] * 0.4, rel=EXACT)
    assert 0 < step["mfu"] < 1
    memory = step["memory"]
    assert memory["total_bytes"] == pytest.approx(est.step.memory.total_bytes, rel=EXACT)
    parts = ("weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "logits_bytes")
    assert memory["total_bytes"] == pytest.approx(sum(memory[k] for k in parts), rel=EXACT)
    assert d["parallelism_chosen"] is False
    assert d["ranges"]["time_s"] == est.ranges["time_s"]


def test_estimate_training_chooses_a_split(catalog: Catalog) -> None:
    setup = TrainingSetup(model=get_model("llama-2-7b"), seq_len=2048, global_batch=32)
    est = estimate_training(catalog, setup, "test.h100x8", instances=1, tokens=1e8, fixed={"tp": 8})
    d = json.loads(dumps(est))
    assert set(d) == TRAINING_KEYS
    assert d["parallelism_chosen"] is True
    assert d["step"]["parallelism"]["tp"] == 8
    fp = d["footprint"]
    assert fp["region"]["name"] == "test-region"  # cheapest on-demand
    assert fp["price"]["pricing"] == "on-demand" and fp["price"]["value"] == est.footprint.price.usd_per_h
    assert fp["region"]["pue"]["value"] == est.footprint.region.pue_ratio
    assert fp["price"]["source"], "the price's source travels with it"


def test_estimate_training_does_not_fit_suggests_more_instances(catalog: Catalog) -> None:
    setup = TrainingSetup(model=get_model("llama-3-70b"), seq_len=4096, global_batch=64)
    with pytest.raises(DoesNotFitError) as err:
        estimate_training(catalog, setup, "test.h100x8", instances=1, tokens=1e9, fixed={"tp": 8, "pp": 1})
    assert "test.h100x8" in err.value.suggestion


def test_estimate_serving_json_and_arithmetic(catalog: Catalog) -> None:
    cfg = ServingConfig(model=get_model("llama-3-8b"), batch=8, input_tokens=1024, output_tokens=256)
    est = estimate_serving(catalog, cfg, "test.h100x8", region="test-region")
    d = json.loads(dumps(est))
    assert set(d) == SERVING_KEYS
    r = d["result"]
    tps = r["output_tokens_per_s"]
    # $ per million output tokens = price per second ÷ tokens per second × 1e6
    assert d["cost_usd_per_million_tokens"] == pytest.approx(50.0 / 3600.0 / tps * 1e6, rel=EXACT)
    # facility J per token = IT W × PUE ÷ tokens per second
    assert d["energy_j_per_token"] == pytest.approx(est.footprint.avg_power_w * 1.2 / tps, rel=1e-9)
    assert r["max_batch"] >= 8
    assert r["ttft_s"] > 0 and r["tpot_s"] > 0
    assert d["co2_g_per_million_tokens"] == pytest.approx(d["energy_j_per_token"] / 3.6e6 * 400 * 1e6, rel=1e-9)
    assert d["config"]["batch"] == 8 and d["config"]["model"]["name"] == "llama-3-8b"
    for phase in ("prefill", "decode"):
        p = r[phase]
        assert p["bound"] in ("compute", "memory", "comm", "overhead")
        assert p["time_s"] >= max(p["compute_s"], p["memory_s"])
    assert r["memory"]["total_bytes"] == pytest.approx(est.result.memory.total_bytes, rel=EXACT)
    assert d["ranges"]["tpot_s"] == est.ranges["tpot_s"]


def test_cleaner_region_emits_less_per_token(catalog: Catalog) -> None:
    cfg = ServingConfig(model=get_model("llama-3-8b"), batch=8)
    dirty = estimate_serving(catalog, cfg, "test.h100x8", region="test-region")
    clean = estimate_serving(catalog, cfg, "test.h100x8", region="test-clean")
    assert dirty.co2_g_per_million_tokens is not None and clean.co2_g_per_million_tokens is not None
    assert clean.co2_g_per_million_tokens < dirty.co2_g_per_million_tokens
    assert clean.cost_usd_per_million_tokens > dirty.cost_usd_per_million_tokens  # $60 vs $50
    unknown = estimate_serving(catalog, cfg, "test.h100x8", region="test-nogrid", pricing=Pricing.SPOT)
    assert unknown.co2_g_per_million_tokens is None  # no grid intensity: unknown, not zero
    assert json.loads(dumps(unknown))["co2_g_per_million_tokens"] is None


# ===================================================================== power under load
def test_load_power_curve_is_a_clipped_line() -> None:
    curve = LoadPowerCurve(floor_fraction=0.3, slope=0.5)
    assert curve.fraction(0.0) == pytest.approx(0.3) and curve.fraction(0.6) == pytest.approx(0.6)
    assert curve.fraction(-1.0) == pytest.approx(0.3) and curve.fraction(2.0) == pytest.approx(0.8)
    assert LoadPowerCurve(0.6, 0.9).fraction(1.0) == 1.0  # never above TDP


def test_power_model_with_a_load_curve(catalog: Catalog) -> None:
    inst = catalog.instance("test.h100x8")
    line = instance_power_w(catalog, inst)
    loaded = instance_power_w(catalog, inst, load=LoadPowerCurve(0.3, 0.5))
    assert loaded.load is not None and line.load is None
    assert loaded.power_w(0.4) == pytest.approx(8 * 700 * (0.3 + 0.5 * 0.4) + H100_HOST_W, rel=EXACT)
    assert line.power_w(0.4) == pytest.approx(8 * (H100_IDLE_W + (700 - H100_IDLE_W) * 0.4) + H100_HOST_W, rel=EXACT)
    # energy over a span at a steady busy share is power × span
    for model in (line, loaded):
        assert model.energy_j(100.0, 8 * 100.0 * 0.4) == pytest.approx(model.power_w(0.4) * 100.0, rel=EXACT)


def test_shipped_a100_load_curve_matches_splitwise_decode_power() -> None:
    """Splitwise measured Llama-2-70B decode on A100 TP8 at 0.43 of TDP, the GPUs busy (streaming weights)
    about a quarter of each host-bound iteration; at TP2, where the GPUs stream most of the time, at 0.74."""
    assert SPLITWISE_A100_LOAD_POWER.fraction(0.27) == pytest.approx(0.43, abs=0.02)
    assert SPLITWISE_A100_LOAD_POWER.fraction(0.83) == pytest.approx(0.74, abs=0.02)
