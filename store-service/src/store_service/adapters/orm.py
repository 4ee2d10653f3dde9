"""Tables of the Kitchen context, mapped onto the plain domain classes."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.orm import registry

from service_kit.types import UtcDateTime
from store_service.adapters.types import TicketLines
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import MAX_REASON, StoreOrder, TicketStatus

metadata = MetaData()

stores = Table(
    "stores",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("region", String(64), nullable=False),
    Column("version", Integer, nullable=False),
)

menu_items = Table(
    "menu_items",
    metadata,
    Column("store_id", String(64), ForeignKey("stores.store_id"), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("price", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

# The kitchen tickets. No foreign key to stores: a ticket may exist (as a placeholder,
# or for a store this database does not know) before anything else about it arrives.
store_orders = Table(
    "store_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    # A plain VARCHAR without a CHECK: adding a state later needs no migration.
    Column(
        "status",
        Enum(TicketStatus, native_enum=False, create_constraint=False, length=16),
        nullable=False,
    ),
    Column("store_id", String(64), nullable=True),
    Column("customer_id", String(64), nullable=True),
    Column("items", TicketLines, nullable=True),
    Column("total_amount", BigInteger, nullable=True),
    Column("reason", String(MAX_REASON), nullable=True),
    Column("placed_at", UtcDateTime, nullable=True),
    Column("accept_by", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("returned", Boolean, nullable=False),
    Column("stock_taken", Boolean, nullable=False),
    Column("taken", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    # The owner's inbox: one store's tickets by status, newest first.
    Index("ix_store_orders_store_status_placed", "store_id", "status", "placed_at"),
    # The acceptance timer: the earliest deadlines of RECEIVED tickets, without a scan.
    Index("ix_store_orders_status_accept_by", "status", "accept_by"),
)

mapper_registry = registry()
_started = False


def start_mappers() -> None:
    """Map once per process; `version` turns concurrent updates into StaleDataError."""
    global _started
    if _started:
        return
    mapper_registry.map_imperatively(Store, stores, version_id_col=stores.c.version)
    mapper_registry.map_imperatively(MenuItem, menu_items, version_id_col=menu_items.c.version)
    mapper_registry.map_imperatively(
        StoreOrder, store_orders, version_id_col=store_orders.c.version
    )
    _started = True
