"""Slow runs: jobs gain ``expected_duration_seconds`` (null: none), executions ``slow``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("expected_duration_seconds", sa.Integer(), nullable=True))
    op.add_column(
        "executions",
        sa.Column("slow", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("slow")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("expected_duration_seconds")
