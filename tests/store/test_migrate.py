"""The run store's schema: migrated up from the first revision with data kept, and exactly the ORM's models."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from chipfleet.exceptions import ConfigError
from chipfleet.store import open_store
from chipfleet.store.engine import make_engine, parse_url
from chipfleet.store.migrate import HEAD, alembic_config, current_revision, upgrade
from chipfleet.store.models import Base


def test_head_is_the_newest_migration_and_revisions_chain_from_0001() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_current_head() == HEAD
    chain = [r.revision for r in script.walk_revisions()]
    assert chain[-1] == "0001" and chain[0] == HEAD


def test_a_run_written_at_revision_0001_reads_back_after_upgrading(store_url: str) -> None:
    engine = make_engine(parse_url(store_url))
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, kind, status, inputs, outputs, error, catalog_hash, overlays, version, "
                "created_at, finished_at, timings) VALUES (:id, 'plan train', 'done', :inputs, :outputs, NULL, "
                "'h0', '[]', '0.0.9', :t, :t, :timings)"
            ),
            {"id": "a" * 32, "inputs": '{"model": "llama-3-8b"}', "outputs": '{"cost_usd": 41.5}',
             "t": datetime(2026, 1, 2, 3, 4, 5), "timings": '{"wall_s": 3.0}'},
        )  # fmt: skip
    engine.dispose()
    store = open_store(store_url)  # upgrades to head
    assert store.schema_version == HEAD
    run = store.get("aaaa")
    assert (run.kind, run.status, run.inputs, run.outputs) == ("plan train", "done", {"model": "llama-3-8b"},
                                                              {"cost_usd": 41.5})  # fmt: skip
    assert (run.version, run.progress, run.source, run.owner, run.timings) == ("0.0.9", 1.0, "cli", "", {"wall_s": 3.0})
    assert [r.id for r in store.list(kind="plan train")] == ["a" * 32]
    store.close()


def test_the_migrated_schema_is_exactly_the_orm_models(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    engine = make_engine(parse_url(store_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_database_from_a_newer_chipfleet_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    engine = make_engine(parse_url(store_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="schema revision '0999', newer than this chipfleet knows"):
        open_store(store_url)


def test_a_migration_that_rebuilds_the_runs_table_keeps_the_sweep_points(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite changes a table by copying it, dropping it and renaming the copy (Alembic's batch mode): with foreign
    keys on, dropping `runs` would cascade into sweep_points. upgrade() runs migrations with them off and checks
    them after, so a future migration of that kind loses nothing."""
    from pathlib import Path

    from alembic import command

    from chipfleet.store.points import PointRow, SweepPoints

    url = f"sqlite:///{Path(str(tmp_path)) / 'runs.sqlite'}"
    store = open_store(url)
    points = SweepPoints(store)
    sweep = "a" * 32
    points.open_sweep(sweep, {"spec": {}}, catalog_hash="h", overlays=[])
    row = PointRow("p1", 0, "done", {"x": 1}, {"y": 2.0}, None, None, 0.1, "w")
    assert points.write(sweep, [row]) == 1

    def rebuild_runs(cfg: object, revision: str) -> None:  # what a batch ALTER of `runs` does on SQLite
        conn = cfg.attributes["connection"]  # type: ignore[attr-defined]
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").scalar()
        conn.exec_driver_sql(re.sub(r'^CREATE TABLE "?runs"?', "CREATE TABLE runs_copy", ddl))  # keys and all
        conn.exec_driver_sql("INSERT INTO runs_copy SELECT * FROM runs")
        conn.exec_driver_sql("DROP TABLE runs")
        conn.exec_driver_sql("ALTER TABLE runs_copy RENAME TO runs")

    monkeypatch.setattr(command, "upgrade", rebuild_runs)
    upgrade(make_engine(parse_url(url)))
    assert points.count(sweep) == 1  # the drop did not cascade
    with make_engine(parse_url(url)).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # and they are on again for the store
