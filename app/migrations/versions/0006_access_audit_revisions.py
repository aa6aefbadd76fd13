"""Access: users, API keys, the audit log, and the revisions of each job.

UI sessions gain ``user_id`` (the user signed in; null: the API token). Jobs gain
``revision`` (their newest revision's number). Each existing job gets revision 1: its
definition as it stands, by ``system``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The definition fields of this schema version (app/services/revisions.py names them).
_FIELDS = (
    "name",
    "description",
    "type",
    "configuration",
    "schedule_type",
    "schedule_config",
    "timezone",
    "is_enabled",
    "max_duration_seconds",
    "retry_count",
    "retry_delay_seconds",
    "overlap_policy",
    "misfire_grace_seconds",
    "jitter_seconds",
    "run_on",
    "concurrency_group",
    "notify",
    "on_success",
    "on_failure",
)


def upgrade() -> None:
    op.add_column("ui_sessions", sa.Column("user_id", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=140), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    revisions = op.create_table(
        "job_revisions",
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "revision"),
    )
    _first_revisions(revisions)


def _first_revisions(revisions: sa.Table) -> None:
    """Revision 1 of every job: its definition as it stands."""
    connection = op.get_bind()
    meta = sa.MetaData()
    jobs = sa.Table("jobs", meta, autoload_with=connection)
    job_tags = sa.Table("job_tags", meta, autoload_with=connection)
    tags: dict[str, list[str]] = {}
    for job_id, tag in connection.execute(sa.select(job_tags.c.job_id, job_tags.c.tag)):
        tags.setdefault(job_id, []).append(tag)
    rows = []
    for job in connection.execute(sa.select(jobs)).mappings():
        definition = {name: job[name] for name in _FIELDS}
        definition["tags"] = sorted(tags.get(job["id"], []))
        definition["deleted"] = job["deleted_at"] is not None
        rows.append(
            {
                "job_id": job["id"],
                "revision": 1,
                "at": job["updated_at"],
                "actor": "system",
                "definition": definition,
                "changes": {},
            }
        )
        if len(rows) >= 1000:
            op.bulk_insert(revisions, rows)
            rows = []
    if rows:
        op.bulk_insert(revisions, rows)


def downgrade() -> None:
    op.drop_table("job_revisions")
    for index in ("ix_audit_log_target", "ix_audit_log_actor", "ix_audit_log_at"):
        op.drop_index(index, table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
    op.drop_table("users")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("revision")
    with op.batch_alter_table("ui_sessions") as batch:
        batch.drop_column("user_id")
