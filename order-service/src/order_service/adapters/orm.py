"""Tables of the Ordering context (the domain classes stay unmapped: the repositories
read and write them on Core, service_kit.repository)."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, Table, UniqueConstraint
from sqlalchemy.types import BigInteger, Boolean, Integer, String, Text

from order_service.domain.model import OrderLine, OrderStatus
from order_service.domain.payment import PaymentStatus
from service_kit.mapping import JsonLines, states, version_column
from service_kit.tables import (
    ADDRESS_LINE,
    DIGEST,
    REGION,
    UUID,
    belongs_to,
    key,
    listed_by,
    optional,
)
from service_kit.types import UtcDateTime

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    key("order_id", UUID),
    *listed_by("customer_id", "store_id"),
    Column("status", states(OrderStatus), nullable=False),
    Column("lines", JsonLines(OrderLine), nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    # Personal data: the delivery address and the phone number.
    Column("address_line", ADDRESS_LINE, nullable=False),
    Column("address_region", REGION, nullable=False),
    Column("phone", String(16), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("idempotency_key", String(128), nullable=True),
    Column("request_fingerprint", DIGEST, nullable=True),
    version_column(),
    # One order per customer and key, even for two requests racing with one key.
    # NULL keys never collide, on SQLite and PostgreSQL alike.
    UniqueConstraint("customer_id", "idempotency_key", name="uq_orders_customer_idempotency_key"),
)

payments = Table(
    "payments",
    metadata,
    belongs_to(orders.c.order_id, primary_key=True),
    Column("reference", String(128), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    # Indexed for the refund dispatcher, which polls for REFUND_PENDING rows.
    Column("status", states(PaymentStatus), nullable=False, index=True),
    Column("charged_at", UtcDateTime, nullable=False),
    *optional(UtcDateTime, "refund_requested_at", "refunded_at"),
    version_column(),
)

menu_replica = Table(
    "menu_replica",
    metadata,
    key("store_id"),
    key("menu_item_id"),
    Column("name", Text, nullable=False),  # the contract does not bound it
    Column("price", BigInteger, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("available", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    version_column(),
)
