"""Which format of the job store's rows a leader checked all of
(``scheduler_state.store_checked_by``): a leader of the same format skips the check
that every row loads (15 s of CPU at 100,000 jobs), one of another format does it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheduler_state", sa.Column("store_checked_by", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("scheduler_state") as batch:
        batch.drop_column("store_checked_by")
