"""The column kinds every service's tables are made of, and the plumbing tables every
service keeps in its own database.

A table reads as its groups: `key("order_id")`, `*references("store_id",
"customer_id")`, `*optional(UtcDateTime, "placed_at", "ready_at")`, ... Each helper
makes exactly the `Column`s it names, so the schema is what the migrations build.

The plumbing tables live in their own MetaData so each service's Alembic environment
targets `[service metadata, plumbing_metadata]` and migrates them with its own tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

Type = TypeEngine[Any] | type[TypeEngine[Any]]

# The bounds the contract sets on what the events carry.
ID = String(64)  # `Id`
REGION = String(64)  # `DeliveryAddress.region`, and a rider's or a store's region
ADDRESS_LINE = String(200)  # `DeliveryAddress.line`: personal data
# What a service makes itself.
UUID = String(36)  # an id: a UUID's text
EVENT_TYPE = String(64)  # an event type's name, as the registry knows it
DIGEST = String(64)  # a SHA-256, in hex
TRACEPARENT = String(55)  # a W3C traceparent header's value


def key(name: str, type_: Type = ID) -> Column[Any]:
    """The primary key, or one column of it."""
    return Column(name, type_, primary_key=True)


def required(type_: Type, *names: str) -> list[Column[Any]]:
    """Columns of one type that every row fills."""
    return [Column(name, type_, nullable=False) for name in names]


def optional(type_: Type, *names: str) -> list[Column[Any]]:
    """Columns of one type that a row may leave empty (not known yet, or never)."""
    return [Column(name, type_, nullable=True) for name in names]


def references(*names: str) -> list[Column[Any]]:
    """Ids of other contexts' things, known only once the event that tells them comes."""
    return optional(ID, *names)


def listed_by(*names: str) -> list[Column[Any]]:
    """Ids of other contexts' things that every row names and the rows are looked up by."""
    return [Column(name, ID, nullable=False, index=True) for name in names]


def belongs_to(parent: Column[Any], **options: Any) -> Column[Any]:
    """The column naming this row's parent row: the parent key's name and type, with
    its foreign key (`options`: primary_key, nullable, index)."""
    return Column(parent.name, parent.type, ForeignKey(parent), **options)


def serial() -> Column[Any]:
    """`id`, a primary key the database counts up (BigInteger; SQLite counts only an
    Integer)."""
    return Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


plumbing_metadata = MetaData()

# Transactional outbox: written in the same transaction as the aggregate change.
outbox = Table(
    "outbox",
    plumbing_metadata,
    # The id orders the rows; one aggregate's changes are serialised by the
    # aggregate's version check, so their ids follow their commit order.
    serial(),
    Column("event_id", UUID, nullable=False, unique=True),
    Column("event_type", EVENT_TYPE, nullable=False),
    Column("event_version", Integer, nullable=False),
    *required(String(128), "topic", "message_key"),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    # The W3C traceparent of the command's span, sent on as a Kafka header (telemetry.py).
    Column("traceparent", TRACEPARENT, nullable=True),
    Index("ix_outbox_unpublished", "published_at", "id"),
)

# Inbox: the event ids a consumer has applied, recorded in the handler's transaction.
inbox = Table(
    "inbox",
    plumbing_metadata,
    key("consumer"),
    key("event_id", UUID),
    Column("event_type", EVENT_TYPE, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

__all__ = [
    "ADDRESS_LINE",
    "DIGEST",
    "EVENT_TYPE",
    "ID",
    "REGION",
    "TRACEPARENT",
    "UUID",
    "belongs_to",
    "inbox",
    "key",
    "listed_by",
    "optional",
    "outbox",
    "plumbing_metadata",
    "references",
    "required",
    "serial",
]
