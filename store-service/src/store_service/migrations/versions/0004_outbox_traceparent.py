"""outbox traceparent

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from service_kit.migrations import add_outbox_traceparent, drop_outbox_traceparent

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_traceparent()


def downgrade() -> None:
    drop_outbox_traceparent()
