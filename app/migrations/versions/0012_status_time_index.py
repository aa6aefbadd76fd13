"""Executions by status in time order again (``ix_executions_status_scheduled``): the run
queue's index (status, worker, scheduled_at) that replaced it in 0011 cannot give one
status's rows in time order, so the dashboard's newest failures sorted every failed row of
the history (250 ms at 100,000 of them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: databases made while 0011 was being written kept the index.
    op.create_index(
        "ix_executions_status_scheduled",
        "executions",
        ["status", "scheduled_at"],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_executions_status_scheduled", table_name="executions")
