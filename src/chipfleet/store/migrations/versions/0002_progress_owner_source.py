"""0002: progress of a running run, its owner (host:pid, to recover runs a dead process left), its source; indexes
for listing by kind and status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("progress", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("progress_message", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("owner", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="cli"))
    op.create_index("ix_runs_kind_created_at", "runs", ["kind", "created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])
    # runs saved before 0002 were complete when saved
    op.execute("UPDATE runs SET progress = 1 WHERE status = 'done'")


def downgrade() -> None:
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_index("ix_runs_kind_created_at", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("source")
        batch.drop_column("owner")
        batch.drop_column("progress_message")
        batch.drop_column("progress")
