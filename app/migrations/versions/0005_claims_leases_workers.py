"""Claimed runs, leases, workers, and where and how many runs go.

Executions gain ``worker`` (the worker whose claim took the row to ``running``) and
``lease_until`` (until when the run is that worker's without a renewal). The leader
record gains ``term`` (the leadership number, higher for each new leader: a pass
written under an older one is refused), ``worker`` and ``lease_until``. ``workers``
lists the processes that run executions, with their heartbeats. Jobs gain ``run_on``
(labels a worker must have to run them) and ``concurrency_group``.

A ``running`` row from before this migration has no lease: the first leader after the
upgrade records it ``interrupted`` (its process is gone: the upgrade restarted it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("worker", sa.String(length=64), nullable=True))
    op.add_column("executions", sa.Column("lease_until", sa.DateTime(), nullable=True))
    op.add_column(
        "scheduler_leader",
        sa.Column("term", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("scheduler_leader", sa.Column("worker", sa.String(length=64), nullable=True))
    op.add_column("scheduler_leader", sa.Column("lease_until", sa.DateTime(), nullable=True))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_heartbeat_at", "workers", ["heartbeat_at"])
    op.add_column(
        "jobs", sa.Column("run_on", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column("jobs", sa.Column("concurrency_group", sa.String(length=63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in ("concurrency_group", "run_on"):
            batch.drop_column(column)
    op.drop_index("ix_workers_heartbeat_at", table_name="workers")
    op.drop_table("workers")
    with op.batch_alter_table("scheduler_leader") as batch:
        for column in ("lease_until", "worker", "term"):
            batch.drop_column(column)
    with op.batch_alter_table("executions") as batch:
        for column in ("lease_until", "worker"):
            batch.drop_column(column)
