"""Fixtures shared across the test packages, and the hypothesis profiles."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from chipfleet.catalog import Catalog, load_catalog

# CI draws the same examples every run, so a submission's result cannot hang on a lucky draw; a developer's runs
# keep exploring new examples (which is how they find bugs) and report any failure with its reproducing seed.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: a torch test is slow whether or not its module says so
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("torch") is not None:
            if item.get_closest_marker("slow") is None:
                item.add_marker(pytest.mark.slow)
            # `make test` runs on several workers (pytest-xdist, --dist loadgroup): the torch tests share one
            # measurement of this machine (a session fixture), taken once if they all run on one worker.
            item.add_marker(pytest.mark.xdist_group("torch"))


@pytest.fixture(scope="session")
def cat() -> Catalog:
    """The shipped catalog, without the user's environment overlay (records are frozen: safe to share)."""
    return load_catalog(use_env=False)
