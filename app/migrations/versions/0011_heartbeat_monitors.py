"""Heartbeat monitors: jobs gain ``ping_key``, the secret of their ping URL; the run
queue's index gains ``worker``, so that a claim passes over the fires that wait for a ping.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("ping_key", sa.String(length=36), nullable=True))
    op.create_index("ux_jobs_ping_key", "jobs", ["ping_key"], unique=True)
    op.drop_index("ix_executions_status_scheduled", table_name="executions")
    op.create_index("ix_executions_queue", "executions", ["status", "worker", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_executions_queue", table_name="executions")
    op.create_index("ix_executions_status_scheduled", "executions", ["status", "scheduled_at"])
    op.drop_index("ux_jobs_ping_key", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("ping_key")
