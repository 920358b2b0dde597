"""Fixtures shared across the test packages, and the hypothesis profiles."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session", autouse=True)
def _run_store_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every command a test runs saves its run (chipfleet.cli.runs_save): into a SQLite file of this session, never
    the developer's own store ($CHIPFLEET_DB or their data folder). Subprocesses inherit it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHIPFLEET_DB", f"sqlite:///{tmp_path_factory.mktemp('run-store') / 'runs.sqlite'}")
        mp.delenv("CHIPFLEET_NO_SAVE", raising=False)
        yield


@pytest.fixture(scope="session")
def cat() -> Catalog:
    """The shipped catalog, without the user's environment overlay (records are frozen: safe to share)."""
    return load_catalog(use_env=False)


# ----------------------------------------------------------------------------- run store databases
# Every run-store test runs on SQLite (a real file) and on PostgreSQL (a real throwaway cluster, scripts/postgres.sh).
# PostgreSQL comes from $CHIPFLEET_TEST_PG_URL (.ci/run starts one); without it each test worker starts its own
# cluster with the script on a port of its own and stops it at the end. Where that cannot be done the PostgreSQL
# cases skip, saying why, except under CI=true, where a missing PostgreSQL fails them.
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
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
