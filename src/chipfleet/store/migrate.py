"""The run store's schema version and its Alembic upgrades, run in-process on the store's own connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0003"
"""The newest schema revision (tests check it is Alembic's head of migrations/versions)."""

VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in this package (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "chipfleet.store:migrations")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None for a database the store has never opened."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default); a no-op where it is there already.

    Run as one write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock in env.py), so
    processes that open a new database at once migrate it once."""
    from alembic import command

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # A migration that rebuilds a table (Alembic's batch mode on SQLite: copy, drop, rename) would cascade
            # the drop of `runs` into sweep_points: foreign keys are off while it runs (SQLite reads this pragma
            # outside a transaction only) and checked once it is done.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        try:
            conn = conn.execution_options(write=True)
            command.upgrade(alembic_config(conn), revision)
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:
                    raise RuntimeError(f"the migration to {revision} left a row without its run: {tuple(broken)}")
            conn.commit()
        except BaseException:
            conn.rollback()  # first: SQLite ignores the pragma below inside a transaction
            raise
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]
