"""The run store: every estimate, plan, simulation and validation saved with its inputs, catalog and answer.

SQLAlchemy 2 models with Alembic migrations (shipped in the package, applied by :func:`open_store`); SQLite by
default, PostgreSQL or any SQLAlchemy database by URL (``$CHIPFLEET_DB``)."""

from chipfleet.store.engine import ENV_VAR, default_store_url
from chipfleet.store.records import Change, Move, OverlayChange, RunDiff, RunRecord, RunSummary
from chipfleet.store.store import RunStore, open_store

__all__ = [
    "ENV_VAR",
    "Change",
    "Move",
    "OverlayChange",
    "RunDiff",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "default_store_url",
    "open_store",
]
