"""The run store's tables as SQLAlchemy 2 typed ORM models; the Alembic migrations build exactly this schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the run store's tables."""


class Run(Base):
    """One saved run. Times are naive UTC (SQLite keeps no zone); :mod:`chipfleet.store.store` adds the zone back.

    ``outputs`` is NULL while the run is running and set in the same transaction as ``status='done'``, so a
    reader sees a run either running without outputs or complete."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    catalog_hash: Mapped[str] = mapped_column(String(64))
    overlays: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    timings: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    # revision 0002
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    progress_message: Mapped[str] = mapped_column(Text, server_default="")
    owner: Mapped[str] = mapped_column(String(255), server_default="")
    source: Mapped[str] = mapped_column(String(16), server_default="cli")

    __table_args__ = (
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_kind_created_at", "kind", "created_at"),
        Index("ix_runs_status", "status"),
    )


class SweepPoint(Base):
    """One finished point of a sweep (revision 0003): its inputs, named outputs and status, written whole in one
    transaction. ``(sweep_id, point_id)`` is unique, so a resumed sweep can never store a point twice; the rows go
    with their sweep's run (ON DELETE CASCADE)."""

    __tablename__ = "sweep_points"

    sweep_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    wall_s: Mapped[float] = mapped_column(Float)
    worker: Mapped[str] = mapped_column(String(255))
    finished_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("sweep_id", "seq", name="uq_sweep_points_sweep_id_seq"),)
