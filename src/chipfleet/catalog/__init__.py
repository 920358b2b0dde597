"""The catalog: chips, efficiency families, instances and regions, every figure with its source."""

from chipfleet.catalog.fingerprint import content_hash
from chipfleet.catalog.loader import ENV_VAR, Catalog, default_catalog, load_catalog
from chipfleet.catalog.schema import (
    FP4_FORMATS,
    Basis,
    Chip,
    Cloud,
    EfficiencyFamily,
    Figure,
    Instance,
    Precision,
    Price,
    Pricing,
    Region,
    ScaleUp,
    Source,
)

__all__ = [
    "ENV_VAR",
    "FP4_FORMATS",
    "Basis",
    "Catalog",
    "Chip",
    "Cloud",
    "EfficiencyFamily",
    "Figure",
    "Instance",
    "Precision",
    "Price",
    "Pricing",
    "Region",
    "ScaleUp",
    "Source",
    "content_hash",
    "default_catalog",
    "load_catalog",
]
