"""when a feed's failure streak began, and whether the admins were told

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('feed_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failing_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('failure_reported', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    # A feed failing now has been failing at least since its last attempt.
    op.execute("UPDATE feed_state SET failing_since = last_attempt_at "
               "WHERE consecutive_failures > 0")


def downgrade() -> None:
    with op.batch_alter_table('feed_state', schema=None) as batch_op:
        batch_op.drop_column('failure_reported')
        batch_op.drop_column('failing_since')
