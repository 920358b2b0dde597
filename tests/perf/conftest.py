"""Session-scoped hardware fixtures (frozen records, safe to share; hypothesis-friendly)."""

from __future__ import annotations

import pytest

from chipfleet.perf.hardware import Hardware

from ._hardware import H100_LIKE, INF2_LIKE, TRN1_LIKE


@pytest.fixture(scope="session")
def h100() -> Hardware:
    return H100_LIKE


@pytest.fixture(scope="session")
def trn1() -> Hardware:
    return TRN1_LIKE


@pytest.fixture(scope="session")
def inf2() -> Hardware:
    return INF2_LIKE
