"""A sweep in the run store: its run record (kind "sweep", source "sweep") and its finished points, one row each.

A point is written whole, in one transaction, as soon as it finishes; ``(sweep_id, point_id)`` is unique and a
point already there is left as it is, so a sweep killed at any moment and run again
loses no point, stores none twice and leaves none half-written. The one exception: a point the infrastructure lost
(its error starts with :data:`LOST`: its worker died, Ray could not run it) is no answer of its command, so a rerun
runs it again and its new row replaces the lost one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from chipfleet.exceptions import ConfigError
from chipfleet.serialize import to_jsonable
from chipfleet.store.models import Run, SweepPoint
from chipfleet.store.store import RunStore, _now, _version, owner_alive_here, owner_here

SWEEP_KIND = "sweep"
LOST = "WorkerLost: "
"""The start of a failed point's error when the point did not fail by itself (the worker running it died, Ray could
not run it): such a point is not skipped when the sweep runs again."""
READ_BATCH = 1000
"""Rows fetched per query when a sweep's points are read back (memory stays flat however many there are)."""


@dataclass(frozen=True)
class PointRow:
    """One finished point as stored: status "done" (outputs) or "failed" (error)."""

    point_id: str
    seq: int
    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    result: Any
    error: str | None
    wall_s: float
    worker: str


def _settled() -> Any:
    """A stored point that stays as it is: done, or failed by the command itself (not lost)."""
    return or_(SweepPoint.status != "failed", SweepPoint.error.is_(None), ~SweepPoint.error.startswith(LOST))


class SweepPoints:
    """The sweeps of one run store and their points."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def open_sweep(
        self, sweep_id: str, inputs: dict[str, Any], *, catalog_hash: str, overlays: list[dict[str, Any]]
    ) -> bool:
        """Create the sweep's run (status "running", owned by this process) or take over an existing one (a sweep run
        again resumes it: its status goes back to "running" and its inputs, the spec and its path, are the new ones).
        A sweep running in a live process of this host is refused (two drivers would both run nearly every point);
        one whose owner is gone is taken over. Returns True if it was already there."""
        if len(sweep_id) != 32:
            raise ConfigError(f"a sweep id is 32 hex characters, got {sweep_id!r}", field="sweep")
        with self.store._write() as s:
            row = s.get(Run, sweep_id)
            if row is not None:
                if row.kind != SWEEP_KIND:
                    raise ConfigError(f"run {sweep_id} is a {row.kind!r} run, not a sweep", field="sweep")
                if row.status == "running" and row.owner != owner_here() and owner_alive_here(row.owner):
                    raise ConfigError(
                        f"sweep {sweep_id} is running in {row.owner}; wait for it or stop it", field="sweep"
                    )
                # the spec may have been edited where it does not change the sweep (name, report): keep the new one
                row.inputs = to_jsonable(inputs)
                row.status, row.error, row.finished_at, row.owner = "running", None, None, owner_here()
                return True
            s.add(
                Run(
                    id=sweep_id,
                    kind=SWEEP_KIND,
                    status="running",
                    inputs=to_jsonable(inputs),
                    outputs=None,
                    error=None,
                    catalog_hash=catalog_hash,
                    overlays=to_jsonable(list(overlays)),
                    version=_version(),
                    created_at=_now(),
                    finished_at=None,
                    timings=None,
                    progress=0.0,
                    progress_message="",
                    owner=owner_here(),
                    source="sweep",
                )
            )
            return False

    def stored(self, sweep_id: str, point_ids: Iterable[str]) -> set[str]:
        """Which of ``point_ids`` the sweep has stored already, lost points (:data:`LOST`) aside: those run again."""
        ids = list(point_ids)
        found: set[str] = set()
        with self.store._read() as s:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                query = select(SweepPoint.point_id).where(
                    SweepPoint.sweep_id == sweep_id, SweepPoint.point_id.in_(chunk), _settled()
                )
                found.update(s.scalars(query).all())
        return found

    def write(self, sweep_id: str, rows: list[PointRow], *, progress: float | None = None, message: str = "") -> int:
        """Store finished points (and, given, the sweep's progress) in one transaction; a point stored already is
        kept as it was, unless it was lost (:data:`LOST`): then the new row replaces it. Returns how many rows were
        written (new or replacing a lost one)."""
        if not rows:
            return 0
        values = [
            {
                "sweep_id": sweep_id,
                "point_id": r.point_id,
                "seq": r.seq,
                "status": r.status,
                "inputs": to_jsonable(r.inputs),
                "outputs": to_jsonable(r.outputs),
                "result": to_jsonable(r.result),
                "error": r.error,
                "wall_s": float(r.wall_s),
                "worker": r.worker[:255],
                "finished_at": _now(),
            }
            for r in rows
        ]
        dialect = self.store.backend
        if dialect in ("postgresql", "sqlite"):
            ins: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SweepPoint).values(values)
            columns = ["seq", "status", "inputs", "outputs", "result", "error", "wall_s", "worker", "finished_at"]
            stmt: Any = ins.on_conflict_do_update(
                index_elements=[SweepPoint.sweep_id, SweepPoint.point_id],
                set_={c: ins.excluded[c] for c in columns},
                where=~_settled(),  # the row there: only a lost point is replaced
            )
        else:
            stmt = insert(SweepPoint).values(values)
        with self.store._write() as s:
            result = s.execute(stmt)
            if progress is not None:
                fraction = min(1.0, max(0.0, progress))
                s.execute(
                    update(Run)
                    .where(Run.id == sweep_id, Run.status == "running")
                    .values(progress=fraction, progress_message=message)
                )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult of an INSERT

    def count(self, sweep_id: str, *, status: str | None = None, lost: bool = True) -> int:
        """How many points the sweep has stored (of ``status``; without the lost ones unless ``lost``)."""
        query = select(func.count()).select_from(SweepPoint).where(SweepPoint.sweep_id == sweep_id)
        if status:
            query = query.where(SweepPoint.status == status)
        if not lost:
            query = query.where(_settled())
        with self.store._read() as s:
            return int(s.scalar(query) or 0)

    def points(self, sweep_id: str, *, with_result: bool = False) -> Iterator[PointRow]:
        """The sweep's stored points in their order (``seq``), read in batches."""
        last = -1
        columns = [
            SweepPoint.point_id,
            SweepPoint.seq,
            SweepPoint.status,
            SweepPoint.inputs,
            SweepPoint.outputs,
            SweepPoint.error,
            SweepPoint.wall_s,
            SweepPoint.worker,
        ]
        if with_result:
            columns.append(SweepPoint.result)
        while True:
            query = (
                select(*columns)
                .where(SweepPoint.sweep_id == sweep_id, SweepPoint.seq > last)
                .order_by(SweepPoint.seq)
                .limit(READ_BATCH)
            )
            with self.store._read() as s:
                batch = s.execute(query).all()
            for r in batch:
                yield PointRow(
                    point_id=r.point_id,
                    seq=r.seq,
                    status=r.status,
                    inputs=r.inputs,
                    outputs=r.outputs,
                    result=r.result if with_result else None,
                    error=r.error,
                    wall_s=r.wall_s,
                    worker=r.worker,
                )
            if len(batch) < READ_BATCH:
                return
            last = batch[-1].seq

    def sweeps(self, *, limit: int = 50) -> list[str]:
        """The newest sweeps' run ids."""
        with self.store._read() as s:
            query = select(Run.id).where(Run.kind == SWEEP_KIND).order_by(Run.created_at.desc()).limit(limit)
            return list(s.scalars(query).all())
