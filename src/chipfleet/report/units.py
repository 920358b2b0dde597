"""Human-readable units for tables: durations, money, energy, carbon, bytes, rates (formatting only; the one
parser of what a user types is :mod:`chipfleet.units`)."""

from __future__ import annotations

import math


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
