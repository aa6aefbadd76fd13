"""The schema of Cronwell 0.1.0: jobs, executions, the leader record, APScheduler's store.

A database written by 0.1.0 (before migrations) already has these tables: it is stamped
with this revision, not created again (app.migrate).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Partial indexes, as DDL per dialect (what app.models creates them with).
PARTIAL_INDEXES = {
    "ux_executions_fire": (
        "CREATE UNIQUE INDEX ux_executions_fire ON executions (job_id, scheduled_at) "
        "WHERE trigger = 'schedule'",
        "CREATE UNIQUE INDEX ux_executions_fire ON executions (job_id, scheduled_at) "
        "WHERE trigger = 'schedule'",
    ),
    "ix_jobs_sync_pending": (
        "CREATE INDEX ix_jobs_sync_pending ON jobs (id) WHERE sync_pending = 1",
        "CREATE INDEX ix_jobs_sync_pending ON jobs (id) WHERE sync_pending",
    ),
}


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"], unique=False
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("schedule_type", sa.String(length=16), nullable=False),
        sa.Column("schedule_config", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("max_duration_seconds", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Integer(), nullable=False),
        sa.Column("overlap_policy", sa.String(length=8), nullable=False),
        sa.Column("misfire_grace_seconds", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("fail_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sync_pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_last_status", "jobs", ["last_status"], unique=False)
    op.create_index("ix_jobs_live_order", "jobs", ["deleted_at", "created_at", "id"], unique=False)
    op.create_table(
        "scheduler_leader",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_of", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("output_truncated", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_executions_job_id_id", "executions", ["job_id", "id"], unique=False)
    op.create_index("ix_executions_job_status", "executions", ["job_id", "status"], unique=False)
    op.create_index(
        "ix_executions_status_scheduled", "executions", ["status", "scheduled_at"], unique=False
    )
    op.create_index(
        "ux_executions_idempotency", "executions", ["job_id", "idempotency_key"], unique=True
    )
    dialect = op.get_bind().dialect.name
    for sqlite_ddl, postgresql_ddl in PARTIAL_INDEXES.values():
        if dialect in ("sqlite", "postgresql"):
            op.execute(sqlite_ddl if dialect == "sqlite" else postgresql_ddl)


def downgrade() -> None:
    for table in ("executions", "scheduler_leader", "jobs", "apscheduler_jobs"):
        op.drop_table(table)
