"""The plumbing tables every service keeps in its own database.

They live in their own MetaData so each service's Alembic environment targets
`[service metadata, plumbing_metadata]` and migrates them with its own tables.
"""

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

plumbing_metadata = MetaData()

# Transactional outbox: written in the same transaction as the aggregate change.
outbox = Table(
    "outbox",
    plumbing_metadata,
    # The id orders the rows; one aggregate's changes are serialised by the
    # aggregate's version check, so their ids follow their commit order.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("event_version", Integer, nullable=False),
    Column("topic", String(128), nullable=False),
    Column("message_key", String(128), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    # The W3C traceparent of the command's span, sent on as a Kafka header (telemetry.py).
    Column("traceparent", String(55), nullable=True),
    Index("ix_outbox_unpublished", "published_at", "id"),
)

# Inbox: the event ids a consumer has applied, recorded in the handler's transaction.
inbox = Table(
    "inbox",
    plumbing_metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

__all__ = ["inbox", "outbox", "plumbing_metadata"]
