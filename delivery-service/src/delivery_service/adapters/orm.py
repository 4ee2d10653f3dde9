"""Tables of the Delivery context (the domain classes stay unmapped: the repository
reads and writes them on Core, service_kit.repository)."""

from sqlalchemy import Column, Index, MetaData, String, Table

from delivery_service.domain.model import DeliveryStatus
from service_kit.mapping import states, version_column
from service_kit.tables import ADDRESS_LINE, REGION, key, optional, references
from service_kit.types import UtcDateTime

metadata = MetaData()

# One row per order, created by whichever of its events arrives first: every
# column but the id, status and times of the first event may be filled late.
deliveries = Table(
    "deliveries",
    metadata,
    key("order_id"),
    Column("status", states(DeliveryStatus), nullable=False),
    *references("store_id", "customer_id"),
    Column("region", REGION, nullable=True),
    Column("address_line", ADDRESS_LINE, nullable=True),
    *references("rider_id"),
    Column("return_reason", String(200), nullable=True),
    # The facts, each the time of the event that told it.
    *optional(
        UtcDateTime,
        "placed_at",
        "cook_started_at",
        "cancelled_at",
        "ready_at",
        "picked_at",
        "delivered_at",
        "returned_at",
    ),
    Column("updated_at", UtcDateTime, nullable=False),
    version_column(),
    # Offers near a rider: one region and status, oldest first.
    Index("ix_deliveries_region_status_ready", "region", "status", "ready_at"),
)
