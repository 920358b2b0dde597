"""Every store test runs on SQLite (a real file) and on PostgreSQL (a real throwaway cluster, scripts/postgres.sh).

PostgreSQL comes from $CHIPFLEET_TEST_PG_URL (.ci/run starts one); without it each test worker starts its own cluster
with the script on a port of its own and stops it at the end. Where that cannot be done the PostgreSQL cases skip,
saying why, except under CI=true, where a missing PostgreSQL fails them."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
PG_ENV = "CHIPFLEET_TEST_PG_URL"


def _worker_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return 54330 + (int(worker) if worker.isdigit() else 0)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database (``postgres``), from the environment or started here."""
    given = os.environ.get(PG_ENV, "").strip()
    if given:
        yield given
        return
    reason = ""
    if shutil.which("bash") is None or not SCRIPT.exists():
        reason = "scripts/postgres.sh cannot run here"
    else:
        env = {**os.environ, "CHIPFLEET_PG_PORT": str(_worker_port())}
        started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, env=env, check=False)
        if started.returncode == 0:
            try:
                yield started.stdout.strip().splitlines()[-1]
            finally:
                subprocess.run([str(SCRIPT), "stop"], capture_output=True, env=env, check=False)
            return
        reason = f"scripts/postgres.sh start failed: {started.stderr.strip()[-500:]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI (set ${PG_ENV}): {reason}")
    pytest.skip(f"no PostgreSQL for the run store's tests ({reason}); set ${PG_ENV} or install postgresql")


def _fresh_pg_database(server: str) -> Iterator[str]:
    import psycopg

    name = f"chipfleet_test_{uuid.uuid4().hex[:12]}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = plain.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database's URL: a SQLite file in the test's folder, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.sqlite'}"
        return
    yield from _fresh_pg_database(request.getfixturevalue("pg_server"))
