"""Tables of the Kitchen context (the domain classes stay unmapped: the repositories
read and write them on Core, service_kit.repository)."""

from sqlalchemy import Column, Index, MetaData, Table
from sqlalchemy.types import JSON, BigInteger, Boolean, Integer, String

from service_kit.mapping import JsonLines, states, version_column
from service_kit.tables import REGION, belongs_to, key, listed_by, optional, references, required
from service_kit.types import UtcDateTime
from store_service.domain.store_order import MAX_REASON, TicketLine, TicketStatus

metadata = MetaData()

stores = Table(
    "stores",
    metadata,
    key("store_id"),
    *listed_by("owner_id"),
    Column("name", String(100), nullable=False),
    Column("region", REGION, nullable=False),
    version_column(),
)

menu_items = Table(
    "menu_items",
    metadata,
    belongs_to(stores.c.store_id, primary_key=True),
    key("item_id"),
    Column("name", String(100), nullable=False),
    *required(Integer, "price", "stock", "revision"),
    version_column(),
)

# The kitchen tickets. No foreign key to stores: a ticket may exist (as a placeholder,
# or for a store this database does not know) before anything else about it arrives.
store_orders = Table(
    "store_orders",
    metadata,
    key("order_id"),
    Column("status", states(TicketStatus), nullable=False),
    *references("store_id", "customer_id"),
    Column("items", JsonLines(TicketLine), nullable=True),
    Column("total_amount", BigInteger, nullable=True),
    Column("reason", String(MAX_REASON), nullable=True),
    *optional(UtcDateTime, "placed_at", "accept_by"),
    Column("updated_at", UtcDateTime, nullable=False),
    # Delivery facts, in whatever order they came.
    *required(Boolean, "delivered", "returned"),
    # The stock this order took off the menu, per item, exactly once.
    Column("stock_taken", Boolean, nullable=False),
    Column("taken", JSON, nullable=False),
    version_column(),
    # The owner's inbox: one store's tickets by status, newest first.
    Index("ix_store_orders_store_status_placed", "store_id", "status", "placed_at"),
    # The acceptance timer: the earliest deadlines of RECEIVED tickets, without a scan.
    Index("ix_store_orders_status_accept_by", "status", "accept_by"),
)
