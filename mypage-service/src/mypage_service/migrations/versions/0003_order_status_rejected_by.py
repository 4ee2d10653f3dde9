"""order status: who rejected the order (owner | timeout)

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows of rejections projected before this revision stay NULL: their events
    # did not say who rejected (a rebuild from the topics gives the same answer).
    with op.batch_alter_table("order_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejected_by", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_status", schema=None) as batch_op:
        batch_op.drop_column("rejected_by")
