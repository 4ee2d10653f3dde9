"""Read queries of the Delivery context (straight SQL, no aggregates), each a function
of a Core connection run with `platform.reads` (service_kit.reads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, bindparam, select

from delivery_service.adapters.orm import deliveries
from delivery_service.domain.model import DeliveryStatus
from service_kit.http import Page, Timestamp
from service_kit.rows import columns, shown


class Offer(BaseModel):
    """A delivery in a list: only its region, never the street address."""

    order_id: str
    status: DeliveryStatus
    region: str
    store_id: str | None
    updated_at: Timestamp


class Offers(BaseModel):
    deliveries: list[Offer]


class DeliveryView(BaseModel):
    order_id: str
    status: DeliveryStatus
    region: str
    store_id: str | None
    rider_id: str | None
    updated_at: Timestamp


class DeliveryDetail(DeliveryView):
    address_line: str | None = Field(
        default=None, description="Only for the rider who picked it; absent otherwise"
    )


def offers(
    conn: Connection, region: str, status: DeliveryStatus, page: Page
) -> list[dict[str, Any]]:
    """Deliveries in one region and status, oldest first. Only the region is shown:
    a rider sees the street address once they picked the food."""
    params = {"region": region, "status": status, "limit": page.limit, "offset": page.offset}
    return [shown(row) for row in conn.execute(_OFFERS, params)]


# Built once (building it and its cache key cost as much as running it): riders poll it.
_OFFERS = (
    select(*columns(deliveries, Offer))
    .where(deliveries.c.region == bindparam("region"), deliveries.c.status == bindparam("status"))
    # ready_at is the moment it could be offered (event time); a delivery
    # cancelled before cooking started has none and sorts by its last change.
    .order_by(
        deliveries.c.ready_at.asc().nulls_last(),
        deliveries.c.updated_at,
        deliveries.c.order_id,
    )
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


# Built once, as _OFFERS: a rider's app polls it.
_DELIVERY = select(deliveries).where(deliveries.c.order_id == bindparam("order_id"))


def delivery(conn: Connection, order_id: str, viewer: str | None) -> dict[str, Any] | None:
    """One delivery; None while it is unknown or not offered yet (PENDING). The
    address line is there only for the rider who picked it."""
    row = conn.execute(_DELIVERY, {"order_id": order_id}).first()
    if row is None or row.status == DeliveryStatus.PENDING:
        return None
    found: dict[str, Any] = {
        "order_id": row.order_id,
        "status": str(row.status),
        "region": row.region,
        "store_id": row.store_id,
        "rider_id": row.rider_id,
        "updated_at": row.updated_at.isoformat(),
    }
    if viewer is not None and viewer == row.rider_id:
        found["address_line"] = row.address_line
    return found
