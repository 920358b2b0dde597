"""Human-readable units (parsing is tested in tests/test_units.py)."""

from __future__ import annotations

import pytest

from chipfleet.report import units as u


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5e-4, "500 µs"),
        (0.25, "250.0 ms"),
        (30, "30.00 s"),
        (600, "10.0 min"),
        (36000, "10.0 h"),
        (864000, "10.0 days"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert u.duration(seconds) == text


def test_money_energy_carbon() -> None:
    assert u.usd(1_600_000) == "$1.60M"
    assert u.usd(37_500) == "$38k"
    assert u.usd(12.5) == "$12.50"
    assert u.energy(277_600) == "277.6 MWh"
    assert u.energy(2.5e6) == "2.50 GWh"
    assert u.co2(91_100) == "91.1 t CO2e"
    assert u.co2(None) == "n/a"
