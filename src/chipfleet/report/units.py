"""Human-readable units for tables: durations, money, energy, carbon, bytes, rates, and parsing of '1T'."""

from __future__ import annotations

import math
import re

from chipfleet.exceptions import ConfigError

_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKMBGTP]?)\s*$")


def parse_quantity(text: str, what: str) -> float:
    """'1T' → 1e12, '500B' → 5e11, '2.5M' → 2.5e6, '1e12' → 1e12."""
    m = _QUANTITY.match(str(text))
    if not m:
        raise ConfigError(f"cannot read {what} {text!r}; write a number with an optional k/M/B/T suffix, e.g. 1T")
    value = float(m.group(1)) * _SUFFIX[m.group(2)]
    if value <= 0:
        raise ConfigError(f"{what} must be positive, got {text!r}")
    return value


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "∞"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def usd(amount: float) -> str:
    if amount >= 1e6:
        return f"${amount / 1e6:.2f}M"
    if amount >= 1e4:
        return f"${amount / 1e3:.0f}k"
    if amount >= 100:
        return f"${amount:,.0f}"
    return f"${amount:.2f}"


def energy(kwh: float) -> str:
    if kwh >= 1e6:
        return f"{kwh / 1e6:.2f} GWh"
    if kwh >= 1e3:
        return f"{kwh / 1e3:.1f} MWh"
    return f"{kwh:.1f} kWh"


def co2(kg: float | None) -> str:
    if kg is None:
        return "n/a"
    if kg >= 1e3:
        return f"{kg / 1e3:.1f} t CO2e"
    return f"{kg:.1f} kg CO2e"


def gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB"


def rate(per_s: float, unit: str) -> str:
    if per_s >= 1e6:
        return f"{per_s / 1e6:.2f}M {unit}/s"
    if per_s >= 1e4:
        return f"{per_s / 1e3:.1f}k {unit}/s"
    return f"{per_s:,.0f} {unit}/s"


def percent(x: float) -> str:
    return f"{100 * x:.1f} %"


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h|d|w)?\s*$")
_DURATION_S = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, None: 86400.0}


def parse_duration(text: str, what: str) -> float:
    """'30d' → seconds; units s, min, h, d, w (a bare number means days)."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"cannot read {what} {text!r}; write a number with a unit, e.g. 30d, 12h, 2w")
    value = float(m.group(1)) * _DURATION_S[m.group(2)]
    if value <= 0:
        raise ConfigError(f"{what} must be positive, got {text!r}")
    return value
