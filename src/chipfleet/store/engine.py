"""Which database the run store uses and how it connects: URLs, SQLite's locking settings, clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from chipfleet.exceptions import ConfigError

ENV_VAR = "CHIPFLEET_DB"
"""Environment variable naming the run store's database URL (any SQLAlchemy URL, or a plain file path)."""

BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for another process's write to finish before giving up."""

_FIX = (
    f"set ${ENV_VAR} to a SQLAlchemy URL such as sqlite:////path/to/runs.sqlite or "
    "postgresql://user:password@host:5432/dbname"
)


def default_store_url() -> str:
    """``$CHIPFLEET_DB`` if set, else a SQLite file ``runs.sqlite`` in the user's data folder (platformdirs)."""
    given = os.environ.get(ENV_VAR, "").strip()
    if given:
        return given
    import platformdirs

    return f"sqlite:///{Path(platformdirs.user_data_dir('chipfleet')) / 'runs.sqlite'}"


def masked(url: str | URL) -> str:
    """``url`` with its password hidden, for messages and listings (never print a password)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):  # not parseable: hide whatever stands between "user:" and "@"
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))
    return parsed.render_as_string(hide_password=True)


def parse_url(url: str) -> URL:
    """A store URL as SQLAlchemy's URL: ``postgresql://`` uses psycopg 3; a bare path is a SQLite file."""
    text = url.strip()
    if not text:
        raise ConfigError(f"the run store's URL is empty; {_FIX}", field="db")
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser().resolve()}"
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        raise ConfigError(f"the run store's URL {masked(text)!r} is not a database URL; {_FIX}", field="db") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    if not is_sqlite(url) or not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database)


def make_engine(url: URL) -> Engine:
    """An engine for the store. SQLite: WAL (readers never wait for writers), a busy timeout (writers of several
    processes wait for each other instead of failing) and ``BEGIN IMMEDIATE`` for writes (a write takes the lock
    before reading, so two read-then-write transactions cannot deadlock), no connection pool (each process opens
    its own file handle per use). Other databases: SQLAlchemy's defaults, connections checked before use."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the run store's folder {str(path.parent)!r} ({exc.strerror}); {_FIX}", field="db"
                ) from None
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S})
        _sqlite_locking(engine)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"the run store's URL {masked(url)!r} needs a database driver that is not installed ({exc}); install it "
            f"(pip install 'psycopg[binary]' for PostgreSQL) or {_FIX}",
            field="db",
        ) from None
    except ArgumentError as exc:
        raise ConfigError(f"the run store's URL {masked(url)!r} is not usable ({exc}); {_FIX}", field="db") from None


def _sqlite_locking(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN is off: ours below takes its place
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across a process kill, not a power cut
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")
