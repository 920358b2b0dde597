"""Checking the model on this machine: probe its kernels, benchmark a tiny decoder, compare with predictions."""

from chipfleet.validate.local.bench import (
    DecoderTimings,
    LocalMeasurement,
    LocalShapes,
    default_local_model,
    measure_local,
    time_decoder,
)
from chipfleet.validate.local.check import LocalValidation, PhaseComparison, validate_local
from chipfleet.validate.local.overlay import (
    INSTANCE,
    catalog_with_local,
    local_overlay,
    overlay_document,
    write_local_overlay,
)
from chipfleet.validate.local.probe import AttentionPoint, BandwidthPoint, GemmPoint, fit_half_rows

__all__ = [
    "INSTANCE",
    "AttentionPoint",
    "BandwidthPoint",
    "DecoderTimings",
    "GemmPoint",
    "LocalMeasurement",
    "LocalShapes",
    "LocalValidation",
    "PhaseComparison",
    "catalog_with_local",
    "default_local_model",
    "fit_half_rows",
    "local_overlay",
    "measure_local",
    "overlay_document",
    "time_decoder",
    "validate_local",
    "write_local_overlay",
]
