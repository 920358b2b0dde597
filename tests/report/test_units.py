"""Human-readable units and quantity parsing."""

from __future__ import annotations

import pytest

from chipfleet.exceptions import ConfigError
from chipfleet.report import units as u


@pytest.mark.parametrize(
    ("text", "value"),
    [("1T", 1e12), ("2T", 2e12), ("500B", 5e11), ("2.5M", 2.5e6), ("1e12", 1e12), (" 300 B ", 3e11), ("7", 7.0)],
)
def test_parse_quantity(text: str, value: float) -> None:
    assert u.parse_quantity(text, "--tokens") == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "lots", "1X", "-1T", "0", "1TT"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--tokens"):
        u.parse_quantity(text, "--tokens")


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
