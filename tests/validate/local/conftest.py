"""One quick real measurement and validation per test session, shared by the torch tests of this folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from chipfleet.validate.local import (
    LocalMeasurement,
    LocalValidation,
    measure_local,
    validate_local,
    write_local_overlay,
)


@pytest.fixture(scope="session")
def measurement() -> LocalMeasurement:
    pytest.importorskip("torch", reason="the `torch` extra is not installed (pip install 'chipfleet[torch]')")
    return measure_local("cpu", quick=True)


@pytest.fixture(scope="session")
def overlay_path(measurement: LocalMeasurement, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_local_overlay(measurement, tmp_path_factory.mktemp("local") / "local.yaml")


@pytest.fixture(scope="session")
def validation(measurement: LocalMeasurement) -> LocalValidation:
    return validate_local(measurement, quick=True)
