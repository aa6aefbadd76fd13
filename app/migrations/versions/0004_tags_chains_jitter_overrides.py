"""Tags, chains, jitter and run-now overrides.

Jobs gain ``on_success`` and ``on_failure`` (job ids to run when a run ends) and
``jitter_seconds``; their tags live in ``job_tags`` (one row per tag, indexed by tag for
``?tag=`` filters). Executions gain ``triggered_by`` (the run whose outcome started a
chained run), ``configuration_overrides`` (run-now's) and ``start_after`` (a fire's time
plus its jitter: it starts then, and is measured from ``scheduled_at``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (SQLite has it): the tables are not copied.
    for name in ("on_success", "on_failure"):
        op.add_column(
            "jobs", sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    op.add_column(
        "jobs", sa.Column("jitter_seconds", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("executions", sa.Column("triggered_by", sa.Integer(), nullable=True))
    op.add_column(
        "executions",
        sa.Column("configuration_overrides", sa.JSON(none_as_null=True), nullable=True),
    )
    op.add_column("executions", sa.Column("start_after", sa.DateTime(), nullable=True))
    op.create_table(
        "job_tags",
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("tag", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "tag"),
    )
    op.create_index("ix_job_tags_tag", "job_tags", ["tag", "job_id"])


def downgrade() -> None:
    op.drop_index("ix_job_tags_tag", table_name="job_tags")
    op.drop_table("job_tags")
    with op.batch_alter_table("executions") as batch:
        for column in ("start_after", "configuration_overrides", "triggered_by"):
            batch.drop_column(column)
    with op.batch_alter_table("jobs") as batch:
        for column in ("jitter_seconds", "on_failure", "on_success"):
            batch.drop_column(column)
