"""Alembic's environment for the run store: always run on a connection handed in by chipfleet.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from chipfleet.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("the run store's migrations run through chipfleet.store.migrate, which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # two processes opening a new database at once: one migrates, the other waits and then finds it done
        connection.execute(text("SELECT pg_advisory_xact_lock(7262816)"))
    context.run_migrations()
