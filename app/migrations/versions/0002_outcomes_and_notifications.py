"""Per-status execution counts, last success and failure times, notifications and their
counts.

For /metrics (``cronwell_executions_total`` and the last success and failure gauges) and
for notifications (each job's ``notify``, whether it is failing, and the outbox). The
counts and times are filled in from the history a database already holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FINAL = "('success', 'failed', 'timeout', 'cancelled', 'skipped', 'missed', 'interrupted')"
FAILED = "('failed', 'timeout', 'interrupted')"


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (SQLite has it): the table is not copied.
    op.add_column("jobs", sa.Column("last_success_at", sa.DateTime(), nullable=True))
    op.add_column("jobs", sa.Column("last_failure_at", sa.DateTime(), nullable=True))
    op.add_column(
        "jobs", sa.Column("failing", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("jobs", sa.Column("notify", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "execution_counts",
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "status"),
    )
    op.create_table(
        "notification_counts",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("status"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_notifications_execution_id", "notifications", ["execution_id"], unique=False
    )
    op.create_index(
        "ix_notifications_due", "notifications", ["status", "next_attempt_at"], unique=False
    )
    # What the history already says.
    op.execute(
        "INSERT INTO execution_counts (job_id, status, count) "
        f"SELECT job_id, status, COUNT(*) FROM executions WHERE status IN {FINAL} "
        "GROUP BY job_id, status"
    )
    op.execute(
        "UPDATE jobs SET "
        "last_success_at = (SELECT MAX(finished_at) FROM executions e "
        "WHERE e.job_id = jobs.id AND e.status = 'success'), "
        "last_failure_at = (SELECT MAX(finished_at) FROM executions e "
        f"WHERE e.job_id = jobs.id AND e.status IN {FAILED})"
    )
    op.execute(f"UPDATE jobs SET failing = TRUE WHERE last_status IN {FAILED}")


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("notification_counts")
    op.drop_table("execution_counts")
    with op.batch_alter_table("jobs") as batch:
        for column in ("notify", "failing", "last_failure_at", "last_success_at"):
            batch.drop_column(column)
