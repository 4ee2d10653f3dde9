"""outbox and inbox

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

from service_kit.migrations import create_plumbing_tables, drop_plumbing_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The Delivery context's own tables come with its first aggregate.
    create_plumbing_tables()


def downgrade() -> None:
    drop_plumbing_tables()
