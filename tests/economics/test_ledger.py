"""The ledger of node time: tenures and busy chip-seconds (closed and open), and what node time costs."""

from __future__ import annotations

import math

import pytest

from chipfleet.economics.costing import PowerModel
from chipfleet.economics.ledger import (
    Ledger,
    NodeRate,
    chip_cost_usd,
    effective_pue,
    energy_kwh,
    held_cost_usd,
    node_charge,
)

POWER = PowerModel(chips=8, chip_tdp_w=700.0, chip_idle_w=100.0, host_w=1000.0, host_note="test")
RATE = NodeRate(price_usd_per_h=36.0, power=POWER, pue=1.2, grid_gco2_per_kwh=400.0)


def test_charges_follow_their_formulas() -> None:
    assert held_cost_usd(RATE, 1800.0) == pytest.approx(18.0)  # half an hour of a 36 $/h node
    assert chip_cost_usd(RATE, 8 * 3600.0) == pytest.approx(36.0)  # every chip for an hour: the node's price
    assert RATE.price_usd_per_chip_s == pytest.approx(36.0 / 8 / 3600)
    # One hour, two chips busy throughout: (8·100 + 1000) W idle for 1 h + 2 · 600 W busy, × PUE 1.2.
    e = energy_kwh(RATE, 3600.0, 2 * 3600.0)
    assert e == pytest.approx((1.8 + 1.2) * 1.2)
    c = node_charge(RATE, 3600.0, 2 * 3600.0)
    assert c.cost_usd == 36.0 and c.energy_kwh == pytest.approx(e) and c.co2_kg == pytest.approx(e * 0.4)
    unknown = NodeRate(36.0, POWER, 1.0, None)
    assert node_charge(unknown, 3600.0, 0.0).co2_kg is None
    assert (c + node_charge(unknown, 1.0, 0.0)).co2_kg is None  # one unknown part: the sum is unknown
    assert (c + c).cost_usd == pytest.approx(72.0)


def test_effective_pue_weights_by_it_energy() -> None:
    other = NodeRate(36.0, POWER, 1.5, None)
    assert effective_pue([(RATE, 3600.0, 0.0)]) == pytest.approx(1.2)
    assert effective_pue([(RATE, 3600.0, 0.0), (other, 3600.0, 0.0)]) == pytest.approx(1.35)
    assert effective_pue([]) == 1.0


def test_tenures_by_holder() -> None:
    ledger = Ledger()
    assert ledger.empty
    ledger.hold(0, "serve", 10.0)
    assert not ledger.empty
    assert ledger.held_s(0, "serve", 25.0) == 15.0  # open tenure counts up to the reader's time
    ledger.release(0, "serve", 30.0)
    ledger.hold(0, "train", 30.0)
    ledger.release(0, "train", 50.0)
    ledger.hold(0, "serve", 60.0)
    assert ledger.held_s(0, "serve", 100.0) == 20.0 + 40.0
    assert ledger.held_s(0, "train", 100.0) == 20.0 and ledger.held_s(1, "train", 100.0) == 0.0
    with pytest.raises(RuntimeError, match="already held"):
        ledger.hold(0, "serve", 70.0)


def test_open_busy_segments_are_read_without_closing() -> None:
    ledger = Ledger()
    ledger.add_busy(0, "serve", 50.0)
    ledger.open_busy(("train", 7, 1), "train", 100.0, [(0, 4), (1, 8)])
    # A reader at t=150 sees 50 s of the open segment; nothing is written by reading.
    assert ledger.busy_chip_s(0, 150.0) == 50.0 + 4 * 50.0
    assert ledger.busy_chip_s(0, 150.0, "train") == 4 * 50.0 and ledger.busy_chip_s(0, 150.0, "serve") == 50.0
    assert ledger.busy_chip_s(1, 90.0) == 0.0  # the segment starts later (a restart penalty)
    assert ledger.busy_chip_s(1, 150.0) == 8 * 50.0
    ledger.close_busy(("train", 7, 1), 200.0)
    assert ledger.busy_chip_s(1, math.inf) == 8 * 100.0 and ledger.busy_chip_s(0, 10.0) == 50.0 + 4 * 100.0
