"""The fleet: nodes priced in a region with its PUE and grid intensity, and the chip books of one type."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, Pricing
from chipfleet.exceptions import ConfigError
from chipfleet.sim.fleet import FleetSpec, Pool, TypeChips


def test_type_chips_books(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:3"))
    books = TypeChips(8, pool.nodes, "train", pool.ledger)
    assert books.whole_free == 3 and books.free_chips == 24 and books.fits(24) and not books.fits(25)
    a = books.take(3, 0.0)
    assert a == [(pool.nodes[0], 3)] and pool.nodes[0].owner == "train"
    b = books.take(16, 0.0)  # two whole nodes
    assert b == [(pool.nodes[1], 8), (pool.nodes[2], 8)]
    assert books.free_chips == 5 and books.largest_free() == 5 and not books.fits(6) and books.fits(5)
    assert books.take(6, 0.0) is None and books.free_chips == 5
    assert not books.fits_after(16, {0: 3}) and books.fits_after(8, {0: 3}) and books.fits_after(16, {1: 8, 2: 8})
    assert books.fits_after(6, {1: 8}) and not books.fits_after(9, {1: 8})
    books.give(a, 10.0)
    assert pool.nodes[0].owner is None and books.held_node_s(10.0) == pytest.approx(10 + 2 * 10)
    books.give(b, 20.0)
    assert books.whole_free == 3 and books.held_node_s(99.0) == pytest.approx(10 + 2 * 20)
    # A node another simulator took behind the books' back is dropped, not double-booked.
    pool.allocate([pool.nodes[0]], "serve:0")
    assert books.take(24, 30.0) is None and books.stale_dropped == 1 and pool.nodes[0] not in books
    assert books.take(16, 30.0) == [(pool.nodes[1], 8), (pool.nodes[2], 8)]


def test_nodes_carry_their_region(cat: Catalog) -> None:
    """Each node keeps the region its price comes from, with that region's PUE and grid intensity."""
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2,trn1.32xlarge:1"))
    for node in pool.nodes:
        price = node.instance.price(None, Pricing.ON_DEMAND)
        assert price is not None and node.region == price.region and node.price_usd_per_h == price.usd_per_h
        region = cat.region(price.region)
        assert node.pue == region.pue_ratio and node.grid_gco2_per_kwh == region.grid_gco2_per_kwh
        assert node.rate.pue == node.pue and node.rate.price_usd_per_h == node.price_usd_per_h
    where = pool.nodes[0].region
    assert where is not None
    there = Pool.build(cat, FleetSpec.parse("p5.48xlarge:1"), region=where, pue=1.4)
    assert there.nodes[0].region == where and there.nodes[0].pue == 1.4 and there.pue_override == 1.4


def test_pool_charge_reads_the_ledger(cat: Catalog) -> None:
    pool = Pool.build(cat, FleetSpec.parse("p5.48xlarge:2"))
    idle = pool.charge(3600.0)
    assert idle.cost_usd == pytest.approx(2 * pool.nodes[0].price_usd_per_h)
    pool.ledger.add_busy(0, "train", 8 * 3600.0)  # every chip of node 0 busy for the hour
    busy = pool.charge(3600.0)
    power = pool.nodes[0].power
    extra_kwh = 8 * (power.chip_tdp_w - power.chip_idle_w) * 3600 * pool.nodes[0].pue / 3.6e6
    assert busy.cost_usd == idle.cost_usd and busy.energy_kwh == pytest.approx(idle.energy_kwh + extra_kwh)
    assert pool.charge(3600.0, pool.nodes[1:]).energy_kwh == pytest.approx(idle.energy_kwh / 2)


@pytest.mark.parametrize(("text", "field"), [("p5.48xlarge", "fleet"), ("p5.48xlarge:0", "fleet"), (",", "fleet")])
def test_fleet_spec_errors_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        FleetSpec.parse(text)
    assert err.value.field == field and "--" not in str(err.value)
