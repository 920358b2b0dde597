"""What the run store hands back: a saved run, a line of the run list, and the difference between two runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["running", "done", "failed", "cancelled"]
Source = Literal["cli", "api", "sweep"]

STATUSES: tuple[str, ...] = ("running", "done", "failed", "cancelled")
SOURCES: tuple[str, ...] = ("cli", "api", "sweep")


class RunRecord(BaseModel):
    """One saved run, whole: what was asked (inputs), against which catalog, by which chipfleet, and the answer.

    A run is "running" (no outputs yet), "done" (outputs), "failed" or "cancelled" (error says why)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    status: Status
    inputs: dict[str, Any]
    outputs: Any
    error: str | None
    progress: float
    progress_message: str
    catalog_hash: str
    overlays: list[dict[str, Any]]
    version: str
    source: Source
    owner: str
    created_at: datetime
    finished_at: datetime | None
    timings: dict[str, float]


class RunSummary(BaseModel):
    """One line of ``chipfleet runs list``: a run without its inputs and outputs."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    status: Status
    progress: float
    source: Source
    version: str
    catalog_hash: str
    created_at: datetime
    finished_at: datetime | None
    wall_s: float | None
    error: str | None


class Change(BaseModel):
    """One leaf that differs between two runs, at a JSON-ish path (``batch``, ``prices[us-east-1/on_demand].usd``)."""

    model_config = ConfigDict(frozen=True)

    path: str
    old: Any
    new: Any


class Move(BaseModel):
    """A numeric output that moved: old → new, by ``delta`` (new − old) and ``percent`` of old (None from 0)."""

    model_config = ConfigDict(frozen=True)

    path: str
    old: float
    new: float
    delta: float
    percent: float | None
    headline: bool


class OverlayChange(BaseModel):
    """A catalog overlay present in one run or both with different content, and its records that changed."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: Literal["added", "removed", "changed"]
    old_sha256: str | None
    new_sha256: str | None
    records: list[Change]


class RunDiff(BaseModel):
    """What changed from run ``a`` to run ``b`` (inputs, catalog and prices, version) and how far the answer moved.

    ``moves`` are the numeric outputs that differ, headline figures (cost, time, throughput, latency, energy,
    carbon) first, then by the size of the move; ``output_changes`` the other outputs that differ (text, shape)."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    kind: tuple[str, str]
    inputs: list[Change]
    catalog_hash: tuple[str, str] | None
    overlays: list[OverlayChange]
    version: tuple[str, str] | None
    status: tuple[str, str] | None
    moves: list[Move]
    output_changes: list[Change]

    @property
    def same_answer(self) -> bool:
        return not self.moves and not self.output_changes
