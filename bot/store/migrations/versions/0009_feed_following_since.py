"""when each feed was first polled successfully

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 10:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('feed_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('following_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # A feed already polled has been followed at least since its last success.
    op.execute("UPDATE feed_state SET following_since = last_success_at "
               "WHERE following_since IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('feed_state', schema=None) as batch_op:
        batch_op.drop_column('following_since')
