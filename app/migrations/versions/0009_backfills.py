"""Backfills: the runs of a time range of a job's schedule, one at a time. Executions gain
``backfill_id``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("fires", sa.JSON(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backfills_job_id", "backfills", ["job_id"])
    op.add_column("executions", sa.Column("backfill_id", sa.Integer(), nullable=True))
    where = sa.text("backfill_id IS NOT NULL")
    op.create_index(
        "ix_executions_backfill",
        "executions",
        ["backfill_id"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_executions_backfill", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("backfill_id")
    op.drop_index("ix_backfills_job_id", table_name="backfills")
    op.drop_table("backfills")
