"""Uncertainty bands on predictions, from the cross-validated error of a chip family and metric kind."""

from __future__ import annotations

from chipfleet.catalog import EfficiencyFamily


def speed_band(family: EfficiencyFamily, kind: str) -> tuple[float, float] | None:
    """(low, high) factors on a predicted speed (throughput, 1/latency); None when never calibrated.

    The band is the 10th-90th percentile of the family's out-of-sample errors, widened where needed to
    contain the prediction itself: a family whose held-out sources all ran slower than predicted shows a
    band from below up to the estimate, which reads as "likely slower than this".
    """
    band = family.error_bands.get(kind) or family.error_bands.get("throughput")
    return None if band is None else (min(band[0], 1.0), max(band[1], 1.0))


def speed_range(value: float, band: tuple[float, float] | None) -> list[float] | None:
    """Range of a speed-like prediction (tokens/s, MFU): ``[value·low, value·high]``."""
    return None if band is None else [value * band[0], value * band[1]]


def time_range(value: float, band: tuple[float, float] | None) -> list[float] | None:
    """Range of a time-like prediction (latency, time to train, and cost or energy that scale with time):
    ``[value/high, value/low]``."""
    return None if band is None else [value / band[1], value / band[0]]
