"""Tables of the Kitchen context, mapped onto the plain domain classes."""

from functools import cache

from sqlalchemy import Column, ForeignKey, Index, MetaData, Table
from sqlalchemy.orm import registry
from sqlalchemy.types import JSON, BigInteger, Boolean, Integer, String

from service_kit.mapping import JsonLines, map_aggregate, states, version_column
from service_kit.types import UtcDateTime
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import MAX_REASON, StoreOrder, TicketLine, TicketStatus

metadata = MetaData()

stores = Table(
    "stores",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("region", String(64), nullable=False),
    version_column(),
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
    version_column(),
)

# The kitchen tickets. No foreign key to stores: a ticket may exist (as a placeholder,
# or for a store this database does not know) before anything else about it arrives.
store_orders = Table(
    "store_orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("status", states(TicketStatus), nullable=False),
    Column("store_id", String(64), nullable=True),
    Column("customer_id", String(64), nullable=True),
    Column("items", JsonLines(TicketLine), nullable=True),
    Column("total_amount", BigInteger, nullable=True),
    Column("reason", String(MAX_REASON), nullable=True),
    Column("placed_at", UtcDateTime, nullable=True),
    Column("accept_by", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("returned", Boolean, nullable=False),
    Column("stock_taken", Boolean, nullable=False),
    Column("taken", JSON, nullable=False),
    version_column(),
    # The owner's inbox: one store's tickets by status, newest first.
    Index("ix_store_orders_store_status_placed", "store_id", "status", "placed_at"),
    # The acceptance timer: the earliest deadlines of RECEIVED tickets, without a scan.
    Index("ix_store_orders_status_accept_by", "status", "accept_by"),
)

mapper_registry = registry()


@cache  # map once per process
def start_mappers() -> None:
    map_aggregate(mapper_registry, Store, stores)
    map_aggregate(mapper_registry, MenuItem, menu_items)
    map_aggregate(mapper_registry, StoreOrder, store_orders)
