"""Shared pieces of the sweep tests: the catalog context with the CLI's point runner, a real local Ray cluster."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chipfleet.catalog import Catalog, content_hash
from chipfleet.catalog.fingerprint import overlays
from chipfleet.cli.sweep import POINTS
from chipfleet.sweep.engine import Context

RAY_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ray.sh"


@pytest.fixture(scope="session")
def ctx(cat: Catalog) -> Context:
    return Context(cat, content_hash(cat), overlays(cat), POINTS)


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real local Ray cluster: $CHIPFLEET_TEST_RAY_ADDRESS (.ci/run starts one with scripts/ray.sh), else one
    started here with scripts/ray.sh (a head node on this machine, 2 CPUs) and stopped at the end."""
    given = os.environ.get("CHIPFLEET_TEST_RAY_ADDRESS", "").strip()
    if given:
        yield given
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    port = 63800 + (int(worker) if worker.isdigit() else 0)
    env = {**os.environ, "CHIPFLEET_RAY_PORT": str(port), "CHIPFLEET_RAY_DIR": str(tmp_path_factory.mktemp("ray"))}
    started = subprocess.run([str(RAY_SCRIPT), "start"], capture_output=True, text=True, env=env, check=False)
    if started.returncode != 0:
        pytest.fail(f"scripts/ray.sh start failed: {started.stderr[-800:]}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([str(RAY_SCRIPT), "stop"], capture_output=True, env=env, check=False)
