"""Tables of the Ordering context, mapped onto the plain domain classes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import composite, registry
from sqlalchemy.types import TypeDecorator

from order_service.domain.menu import MenuItemReplica
from order_service.domain.model import DeliveryAddress, Order, OrderLine, OrderStatus
from order_service.domain.payment import Payment, PaymentStatus
from service_kit.types import UtcDateTime


class OrderLines(TypeDecorator[tuple[OrderLine, ...]]):
    """An order's lines as one JSON column: they never change after placement and are
    always read with their order, so no child table and no lazy loads."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else [asdict(line) for line in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[OrderLine, ...] | None:
        return None if value is None else tuple(OrderLine(**line) for line in value)


def _states(enum: type[OrderStatus] | type[PaymentStatus]) -> Enum:
    # A plain VARCHAR without a CHECK: adding a state later needs no migration.
    return Enum(enum, native_enum=False, create_constraint=False, length=16)


metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("store_id", String(64), nullable=False, index=True),
    Column("status", _states(OrderStatus), nullable=False),
    Column("lines", OrderLines, nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("address_line", String(200), nullable=False),
    Column("address_region", String(64), nullable=False),
    Column("phone", String(16), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("idempotency_key", String(128), nullable=True),
    Column("request_fingerprint", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    # One order per customer and key, even for two requests racing with one key.
    # NULL keys never collide, on SQLite and PostgreSQL alike.
    UniqueConstraint("customer_id", "idempotency_key", name="uq_orders_customer_idempotency_key"),
)

payments = Table(
    "payments",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.order_id"), primary_key=True),
    Column("reference", String(128), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    # Indexed for the refund dispatcher, which polls for REFUND_PENDING rows.
    Column("status", _states(PaymentStatus), nullable=False, index=True),
    Column("charged_at", UtcDateTime, nullable=False),
    Column("refund_requested_at", UtcDateTime, nullable=True),
    Column("refunded_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
)

menu_replica = Table(
    "menu_replica",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("menu_item_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),  # the contract does not bound it
    Column("price", BigInteger, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("available", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

mapper_registry = registry()
_started = False


def start_mappers() -> None:
    """Map once per process; `version` turns concurrent updates into StaleDataError."""
    global _started
    if _started:
        return
    mapper_registry.map_imperatively(
        Order,
        orders,
        version_id_col=orders.c.version,
        properties={
            "delivery_address": composite(
                DeliveryAddress, orders.c.address_line, orders.c.address_region
            ),
        },
    )
    mapper_registry.map_imperatively(Payment, payments, version_id_col=payments.c.version)
    mapper_registry.map_imperatively(
        MenuItemReplica, menu_replica, version_id_col=menu_replica.c.version
    )
    _started = True
