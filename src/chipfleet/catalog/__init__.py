"""The catalog: chips, efficiency families, instances and regions, every figure with its source."""

from chipfleet.catalog.loader import ENV_VAR, Catalog, default_catalog, load_catalog
from chipfleet.catalog.schema import (
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
    Source,
)

__all__ = [
    "ENV_VAR",
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
    "Source",
    "default_catalog",
    "load_catalog",
]
