"""Fixtures shared across the test packages."""

from __future__ import annotations

import pytest

from chipfleet.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def cat() -> Catalog:
    """The shipped catalog, without the user's environment overlay (records are frozen: safe to share)."""
    return load_catalog(use_env=False)
