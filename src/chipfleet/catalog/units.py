"""Vendor units to SI, converted once at the catalog boundary (GB is 1e9 bytes, GiB is 2**30)."""

from __future__ import annotations

from enum import StrEnum

from chipfleet.exceptions import CatalogError


class Dimension(StrEnum):
    """What a catalog figure measures, with the SI unit it is stored in."""

    FLOPS = "flop_per_s"
    BYTES = "bytes"
    BYTES_PER_S = "bytes_per_s"
    WATTS = "w"
    SECONDS = "s"
    RATIO = "ratio"
    COUNT = "count"
    GCO2_PER_KWH = "gco2_per_kwh"
    USD_PER_H = "usd_per_h"
    W_PER_GB = "w_per_gb"


# unit as written in data files -> (dimension, factor to SI)
_UNITS: dict[str, tuple[Dimension, float]] = {
    "TFLOPS": (Dimension.FLOPS, 1e12),
    "TOPS": (Dimension.FLOPS, 1e12),
    "PFLOPS": (Dimension.FLOPS, 1e15),
    "GFLOPS": (Dimension.FLOPS, 1e9),
    "FLOPS": (Dimension.FLOPS, 1.0),
    "B": (Dimension.BYTES, 1.0),
    "MB": (Dimension.BYTES, 1e6),
    "MiB": (Dimension.BYTES, 2.0**20),
    "GB": (Dimension.BYTES, 1e9),
    "GiB": (Dimension.BYTES, 2.0**30),
    "TB": (Dimension.BYTES, 1e12),
    "B/s": (Dimension.BYTES_PER_S, 1.0),
    "GB/s": (Dimension.BYTES_PER_S, 1e9),
    "GiB/s": (Dimension.BYTES_PER_S, 2.0**30),
    "TB/s": (Dimension.BYTES_PER_S, 1e12),
    "Gbps": (Dimension.BYTES_PER_S, 1e9 / 8),
    "W": (Dimension.WATTS, 1.0),
    "kW": (Dimension.WATTS, 1e3),
    "s": (Dimension.SECONDS, 1.0),
    "ms": (Dimension.SECONDS, 1e-3),
    "us": (Dimension.SECONDS, 1e-6),
    "ratio": (Dimension.RATIO, 1.0),
    "%": (Dimension.RATIO, 0.01),
    "count": (Dimension.COUNT, 1.0),
    "gCO2e/kWh": (Dimension.GCO2_PER_KWH, 1.0),
    "kgCO2e/kWh": (Dimension.GCO2_PER_KWH, 1e3),
    "USD/h": (Dimension.USD_PER_H, 1.0),
    "W/GB": (Dimension.W_PER_GB, 1.0),
    "kWh/GB/h": (Dimension.W_PER_GB, 1e3),
}

KNOWN_UNITS: tuple[str, ...] = tuple(_UNITS)


def to_si(value: float, unit: str, expected: Dimension) -> float:
    """Convert ``value`` in ``unit`` to the SI unit of ``expected``; refuse a unit of another dimension."""
    try:
        dimension, factor = _UNITS[unit]
    except KeyError:
        raise CatalogError(f"unknown unit {unit!r}; use one of {', '.join(KNOWN_UNITS)}") from None
    if dimension is not expected:
        raise CatalogError(f"unit {unit!r} measures {dimension.value}, but this field needs {expected.value}")
    return value * factor
