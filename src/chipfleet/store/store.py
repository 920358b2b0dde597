"""The run store: every run chipfleet makes, saved whole in SQLite or PostgreSQL, listed, shown, compared, removed.

Each write is one short transaction that changes one row, so a run is absent, running (without outputs) or
complete, never half-written, whatever other processes write at the same time."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, defer

from chipfleet.exceptions import ConfigError, NotFoundError
from chipfleet.serialize import to_jsonable
from chipfleet.store import migrate
from chipfleet.store.diff import diff_runs
from chipfleet.store.engine import default_store_url, is_sqlite, make_engine, masked, parse_url
from chipfleet.store.models import Run
from chipfleet.store.records import SOURCES, STATUSES, RunDiff, RunRecord, RunSummary

ID_CHARS = re.compile(r"[0-9a-f]{1,32}")
MAX_CANDIDATES = 10
"""How many matching runs an ambiguous id prefix lists."""
MAX_LIMIT = 10_000
INTERRUPTED = "interrupted: the process that ran it stopped before it finished; re-run it"


def owner_here() -> str:
    """This process as a run's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive_here(owner: str) -> bool:
    """Whether ``owner`` (``host:pid``) may still be running: a process of this host is looked up by its pid; one
    of another host cannot be checked from here, so it counts as alive."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return host != socket.gethostname()
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _aware(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(tzinfo=UTC)


def _version() -> str:
    from chipfleet import __version__

    return __version__


def _check(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}", field=name)
    return value


class RunStore:
    """Saved runs in one database. Open it with :func:`open_store`; safe to use from several processes at once."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return masked(self._url)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (or another SQLAlchemy dialect's name)."""
        return self._url.get_backend_name()

    @property
    def schema_version(self) -> str | None:
        """The database's Alembic revision (``0002`` ...)."""
        return migrate.current_revision(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, waiting up to the busy timeout for other writers)."""
        with self._engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with Session(bind=conn) as session, session.begin():
                yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._engine) as session:
            yield session

    # ------------------------------------------------------------------ writing
    def start(
        self,
        kind: str,
        inputs: dict[str, Any],
        *,
        catalog_hash: str,
        overlays: list[dict[str, Any]],
        source: str = "cli",
    ) -> str:
        """Record a run that has started (status "running", no outputs); returns its id."""
        row = self._new_row(kind, inputs, catalog_hash, overlays, source, status="running")
        run_id = row.id  # read before the commit expires the row
        with self._write() as s:
            s.add(row)
        return run_id

    def save(
        self,
        kind: str,
        inputs: dict[str, Any],
        outputs: Any,
        *,
        catalog_hash: str,
        overlays: list[dict[str, Any]],
        timings: dict[str, float] | None = None,
        source: str = "cli",
    ) -> str:
        """Record a finished run in one transaction; returns its id."""
        row = self._new_row(kind, inputs, catalog_hash, overlays, source, status="done")
        row.outputs = to_jsonable(outputs)
        row.timings = self._timings(timings)
        row.progress = 1.0
        row.finished_at = row.created_at if timings is None else _now()
        run_id = row.id
        with self._write() as s:
            s.add(row)
        return run_id

    def save_failed(
        self,
        kind: str,
        inputs: dict[str, Any],
        error: str,
        *,
        catalog_hash: str,
        overlays: list[dict[str, Any]],
        status: str = "failed",
        timings: dict[str, float] | None = None,
        source: str = "cli",
    ) -> str:
        """Record a run that failed (or was cancelled) in one transaction, saying why; returns its id."""
        _check("status", status, ("failed", "cancelled"))
        row = self._new_row(kind, inputs, catalog_hash, overlays, source, status=status)
        row.error = str(error)
        row.timings = self._timings(timings)
        row.finished_at = _now()
        run_id = row.id
        with self._write() as s:
            s.add(row)
        return run_id

    def progress(self, run_id: str, fraction: float, message: str = "") -> None:
        """Set a running run's progress (0 to 1, clipped) and what it is doing; a finished run is left as it is."""
        value = min(1.0, max(0.0, float(fraction))) if fraction == fraction else 0.0
        self._update_running(run_id, progress=value, progress_message=message)

    def finish(self, run_id: str, outputs: Any, *, timings: dict[str, float] | None = None) -> None:
        """Mark a running run done with its outputs, in one transaction. A run already failed or cancelled stays so
        (a cancelled job that finishes anyway keeps its cancellation)."""
        self._update_running(
            run_id, status="done", outputs=to_jsonable(outputs), timings=self._timings(timings), progress=1.0,
            finished_at=_now(),
        )  # fmt: skip

    def fail(self, run_id: str, error: str, *, status: str = "failed") -> None:
        """Mark a running run failed or cancelled, saying why."""
        _check("status", status, ("failed", "cancelled"))
        self._update_running(run_id, status=status, error=str(error), finished_at=_now())

    def delete(self, run_id: str) -> None:
        """Remove a run (id or unique prefix)."""
        full = self.get(run_id).id
        with self._write() as s:
            row = s.get(Run, full)
            if row is not None:
                s.delete(row)

    def recover_interrupted(
        self, owner_alive: Callable[[str], bool] | None = None, *, message: str = INTERRUPTED
    ) -> list[str]:
        """Runs left "running" by an owner that is gone become failed, with ``message`` as their error (it starts
        with "interrupted"); returns their ids.

        ``owner_alive(owner)`` says whether a ``host:pid`` still runs (default: :func:`owner_alive_here`, which
        checks processes of this host and trusts other hosts' runs to be alive)."""
        alive = owner_alive or owner_alive_here
        with self._read() as s:
            running = s.execute(select(Run.id, Run.owner).where(Run.status == "running")).all()
        gone = [rid for rid, owner in running if not alive(owner)]
        done: list[str] = []
        for rid in gone:
            with self._write() as s:
                changed = s.execute(
                    update(Run)
                    .where(Run.id == rid, Run.status == "running")
                    .values(status="failed", error=message, finished_at=_now())
                )
                if changed.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
                    done.append(rid)
        return done

    def _new_row(
        self, kind: str, inputs: dict[str, Any], catalog_hash: str, overlays: list[dict[str, Any]], source: str,
        status: str,
    ) -> Run:  # fmt: skip
        if not kind or len(kind) > 64:
            raise ConfigError(f"a run's kind must be 1 to 64 characters, got {kind!r}", field="kind")
        data = to_jsonable(inputs)
        if not isinstance(data, dict):
            raise ConfigError(f"a run's inputs must be a mapping of option to value, got {type(inputs).__name__}")
        return Run(
            id=uuid.uuid4().hex, kind=kind, status=status, inputs=data, outputs=None, error=None,
            catalog_hash=str(catalog_hash), overlays=to_jsonable(list(overlays)), version=_version(),
            created_at=_now(), finished_at=None, timings=None, progress=0.0, progress_message="", owner=owner_here(),
            source=_check("source", source, SOURCES),
        )  # fmt: skip

    @staticmethod
    def _timings(timings: dict[str, float] | None) -> dict[str, float]:
        return {str(k): float(v) for k, v in (timings or {}).items()}

    def _update_running(self, run_id: str, **values: Any) -> None:
        with self._write() as s:
            result = s.execute(update(Run).where(Run.id == run_id, Run.status == "running").values(**values))
            if result.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
                return
            if s.get(Run, run_id) is None:
                raise self._unknown(run_id)

    # ------------------------------------------------------------------ reading
    def get(self, run_id: str) -> RunRecord:
        """A run by its id or a unique prefix of it (``chipfleet runs list`` shows the first 8 characters)."""
        return _record(self._row(run_id))

    def _row(self, run_id: str) -> Run:
        key = str(run_id).strip().lower()
        if not ID_CHARS.fullmatch(key):
            raise self._unknown(run_id)
        with self._read() as s:
            if len(key) == 32:
                row = s.get(Run, key)
                if row is None:
                    raise self._unknown(run_id)
                return row
            rows = s.scalars(
                select(Run).where(Run.id.startswith(key)).order_by(Run.created_at.desc()).limit(MAX_CANDIDATES + 1)
            ).all()
        if not rows:
            raise self._unknown(run_id)
        if len(rows) > 1:
            listed = ", ".join(f"{r.id[:12]} ({r.kind}, {_aware(r.created_at):%Y-%m-%d %H:%M})" for r in rows[:10])
            more = " and more" if len(rows) > MAX_CANDIDATES else ""
            raise ConfigError(
                f"run id prefix {run_id!r} matches several runs: {listed}{more}; give more characters of the id",
                field="run",
            )
        return rows[0]

    def _unknown(self, run_id: str) -> NotFoundError:
        return NotFoundError(
            f"no run {run_id!r} in the run store {self.url}; `chipfleet runs list` shows the saved runs' ids",
            field="run",
        )

    def list(
        self, *, kind: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[RunSummary]:
        """The newest runs first, optionally of one kind (``plan serve``) or status."""
        if not 0 < limit <= MAX_LIMIT:
            raise ConfigError(f"limit must be from 1 to {MAX_LIMIT}, got {limit}", field="limit")
        if offset < 0:
            raise ConfigError(f"offset must be 0 or more, got {offset}", field="offset")
        # a summary needs none of the large JSON columns: leave them in the database (GET /api/runs, `runs list`)
        heavy = (defer(Run.inputs), defer(Run.outputs), defer(Run.overlays))
        query = select(Run).options(*heavy).order_by(Run.created_at.desc(), Run.id.desc()).limit(limit).offset(offset)
        if kind:
            query = query.where(Run.kind == kind.strip().lower())
        if status:
            query = query.where(Run.status == _check("status", status.strip().lower(), STATUSES))
        with self._read() as s:
            return [_summary(r) for r in s.scalars(query).all()]

    def count(self, *, kind: str | None = None, status: str | None = None) -> int:
        """How many runs there are (of one kind, of one status)."""
        query = select(func.count()).select_from(Run)
        if kind:
            query = query.where(Run.kind == kind.strip().lower())
        if status:
            query = query.where(Run.status == status.strip().lower())
        with self._read() as s:
            return int(s.scalar(query) or 0)

    def diff(self, a: str, b: str) -> RunDiff:
        """What changed from run ``a`` to run ``b`` (inputs, catalog, version) and by how much the answer moved."""
        return diff_runs(self.get(a), self.get(b))


def _record(r: Run) -> RunRecord:
    return RunRecord(
        id=r.id, kind=r.kind, status=r.status, inputs=r.inputs, outputs=r.outputs, error=r.error,
        progress=r.progress, progress_message=r.progress_message, catalog_hash=r.catalog_hash, overlays=r.overlays,
        version=r.version, source=r.source, owner=r.owner, created_at=_aware(r.created_at),
        finished_at=_aware(r.finished_at), timings=r.timings or {},
    )  # fmt: skip


def _summary(r: Run) -> RunSummary:
    wall = (r.timings or {}).get("wall_s")
    return RunSummary(
        id=r.id, kind=r.kind, status=r.status, progress=r.progress, source=r.source, version=r.version,
        catalog_hash=r.catalog_hash, created_at=_aware(r.created_at), finished_at=_aware(r.finished_at),
        wall_s=wall, error=r.error,
    )  # fmt: skip


def open_store(url: str | None = None) -> RunStore:
    """The run store at ``url`` (any SQLAlchemy URL; ``postgresql://`` uses psycopg 3; a bare path is a SQLite
    file), else ``$CHIPFLEET_DB``, else ``runs.sqlite`` in the user's data folder; its schema migrated to the
    newest revision. An unusable URL or unreachable database is a :class:`ConfigError` naming the URL (password
    hidden) and how to fix it."""
    parsed = parse_url(default_store_url() if url is None else url)
    engine = make_engine(parsed)
    try:
        revision = migrate.current_revision(engine)
        if revision != migrate.HEAD:
            if revision is not None and not _known_revision(revision):
                raise ConfigError(
                    f"the run store {masked(parsed)} has schema revision {revision!r}, newer than this chipfleet "
                    f"knows ({migrate.HEAD}); upgrade chipfleet, or set $CHIPFLEET_DB to another database",
                    field="db",
                )
            migrate.upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
        where = "file and folder" if is_sqlite(parsed) else "server, port, user, password and database name"
        raise ConfigError(
            f"cannot open the run store {masked(parsed)}: {reason}; check the {where}, or set $CHIPFLEET_DB to "
            "another SQLAlchemy URL (sqlite:////path/runs.sqlite, postgresql://user@host:5432/db)",
            field="db",
        ) from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ConfigError(
            f"cannot use the run store {masked(parsed)}: {' '.join(str(exc).split())[:300]}; set $CHIPFLEET_DB to "
            "another SQLAlchemy URL",
            field="db",
        ) from None
    return RunStore(engine, parsed)


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory

    return revision in {r.revision for r in ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()}
