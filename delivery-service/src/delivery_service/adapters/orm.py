"""Tables of the Delivery context, mapped onto the plain domain classes."""

from functools import cache

from sqlalchemy import Column, Index, MetaData, String, Table
from sqlalchemy.orm import registry

from delivery_service.domain.model import Delivery, DeliveryStatus
from service_kit.mapping import map_aggregate, states, version_column
from service_kit.types import UtcDateTime

metadata = MetaData()

# One row per order, created by whichever of its events arrives first: every
# column but the id, status and times of the first event may be filled late.
deliveries = Table(
    "deliveries",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("status", states(DeliveryStatus), nullable=False),
    Column("store_id", String(64), nullable=True),
    Column("customer_id", String(64), nullable=True),
    Column("region", String(64), nullable=True),
    Column("address_line", String(200), nullable=True),  # personal data
    Column("rider_id", String(64), nullable=True),
    Column("return_reason", String(200), nullable=True),
    Column("placed_at", UtcDateTime, nullable=True),
    Column("cook_started_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("ready_at", UtcDateTime, nullable=True),
    Column("picked_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("returned_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    version_column(),
    # Offers near a rider: one region and status, oldest first.
    Index("ix_deliveries_region_status_ready", "region", "status", "ready_at"),
)

mapper_registry = registry()


@cache  # map once per process
def start_mappers() -> None:
    map_aggregate(mapper_registry, Delivery, deliveries)
