"""acceptance deadline: store_orders.accept_by and the timer's index

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tickets already waiting when this revision runs get the default window from their
# placement (fixed here, not read from the live settings: a revision never changes).
BACKFILL_WINDOW = timedelta(seconds=300)


def upgrade() -> None:
    with op.batch_alter_table("store_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accept_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_store_orders_status_accept_by", ["status", "accept_by"], unique=False
        )
    tickets = sa.table(
        "store_orders",
        sa.column("order_id", sa.String),
        sa.column("status", sa.String),
        sa.column("placed_at", sa.DateTime(timezone=True)),
        sa.column("accept_by", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    waiting = bind.execute(
        sa.select(tickets.c.order_id, tickets.c.placed_at).where(
            tickets.c.status == "RECEIVED", tickets.c.placed_at.is_not(None)
        )
    ).all()
    for order_id, placed_at in waiting:
        bind.execute(
            tickets.update()
            .where(tickets.c.order_id == order_id)
            .values(accept_by=placed_at + BACKFILL_WINDOW)
        )


def downgrade() -> None:
    with op.batch_alter_table("store_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_store_orders_status_accept_by")
        batch_op.drop_column("accept_by")
