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


class _XdistGroups:
    """Give each ``xdist_group`` test the ``@group`` suffix pytest-xdist's loadgroup scheduler groups by.

    pytest-xdist 3.8 adds it by assigning ``item._nodeid``, which pytest 9 no longer reads (the id lives in
    ``item._id``), so every group was silently spread over the workers and each worker recomputed the group's
    shared fixtures. Nothing to do when xdist did add it (its fixed releases) or without ``--dist loadgroup``."""

    @pytest.hookimpl(trylast=True)  # after pytest-xdist's own hook
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        from _pytest.nodeid import NodeId

        for item in items:
            names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                            for m in item.iter_markers("xdist_group")})  # fmt: skip
            group = "_".join(names)
            if names and not item.nodeid.endswith("@" + group) and hasattr(item, "_id"):
                item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_XdistGroups(), "chipfleet-xdist-groups")


@pytest.fixture(scope="session")
def cat() -> Catalog:
    """The shipped catalog, without the user's environment overlay (records are frozen: safe to share)."""
    return load_catalog(use_env=False)
