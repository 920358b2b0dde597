"""The shipped catalog and its claim checks, computed once per session for the claims tests."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, load_catalog
from chipfleet.validate.claims import ClaimCheck, check_claims


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(use_env=False)


@pytest.fixture(scope="session")
def checks(catalog: Catalog) -> dict[str, ClaimCheck]:
    return {c.id: c for c in check_claims(catalog)}
