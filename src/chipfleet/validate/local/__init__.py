"""Checking the model on this machine: probe its kernels, benchmark a tiny decoder, compare with predictions."""

from chipfleet.validate.local.check import (
    LocalMeasurement,
    LocalValidation,
    catalog_with_local,
    default_local_model,
    local_overlay,
    measure_local,
    validate_local,
    write_local_overlay,
)

__all__ = [
    "LocalMeasurement",
    "LocalValidation",
    "catalog_with_local",
    "default_local_model",
    "local_overlay",
    "measure_local",
    "validate_local",
    "write_local_overlay",
]
