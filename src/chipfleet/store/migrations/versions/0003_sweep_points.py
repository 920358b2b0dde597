"""0003: the points of a sweep, one row per finished point, unique per (sweep, point id) and per (sweep, seq).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep_points",
        sa.Column("sweep_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("point_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("wall_s", sa.Float(), nullable=False),
        sa.Column("worker", sa.String(255), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sweep_id", "point_id"),
        sa.UniqueConstraint("sweep_id", "seq", name="uq_sweep_points_sweep_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("sweep_points")
