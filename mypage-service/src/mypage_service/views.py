"""Read queries of the Customer context: the status page, "my orders" and my messages.
Each is a function of a Core connection, run with `platform.reads` (service_kit.reads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, String, bindparam, select

from mypage_service.adapters.orm import notifications, order_status, order_timeline
from mypage_service.domain.notification import NotificationState
from mypage_service.domain.status import Status, rank
from service_kit.http import Page, Timestamp
from service_kit.reads import stable
from service_kit.rows import columns, shown
from shared_events.contract import OrderLine, RejectedBy


class TimelineEntry(BaseModel):
    status: Status
    at: Timestamp
    event_type: str


class OrderPage(BaseModel):
    """The order status page: where the order is and how it got there."""

    order_id: str
    customer_id: str
    store_id: str | None
    status: Status
    total_amount: int | None
    items: list[OrderLine]
    timeline: list[TimelineEntry]
    rejected_by: RejectedBy | None = Field(
        default=None, description="who rejected the order, once it is REJECTED"
    )


class OrderSummary(BaseModel):
    order_id: str
    store_id: str | None
    status: Status
    total_amount: int | None
    placed_at: Timestamp | None
    updated_at: Timestamp


class CustomerOrders(BaseModel):
    customer_id: str
    limit: int
    offset: int
    orders: list[OrderSummary]


class Notification(BaseModel):
    notification_id: str
    order_id: str
    status: Status
    message: str
    state: NotificationState
    created_at: Timestamp
    sent_at: Timestamp | None


class CustomerNotifications(BaseModel):
    customer_id: str
    notifications: list[Notification]


# The status page is the most read page of all: its statements are built once and
# read only the columns it shows.
_ORDER_ID = bindparam("order_id", type_=String)
_STATUS = select(
    *(order_status.c[name] for name in OrderPage.model_fields if name != "timeline"),
    order_status.c.version,
).where(order_status.c.order_id == _ORDER_ID)
_CUSTOMER = select(order_status.c.customer_id).where(order_status.c.order_id == _ORDER_ID)
_TIMELINE = select(order_timeline.c.status, order_timeline.c.at, order_timeline.c.event_type).where(
    order_timeline.c.order_id == _ORDER_ID
)


@stable  # polled by every customer's page: read again only once something committed
def order(conn: Connection, order_id: str) -> dict[str, Any] | None:
    """The status page; None until the order's customer is known (nobody could be
    shown it, since nobody's ownership can be checked yet)."""
    signed = signed_order(conn, order_id)
    return None if signed is None else signed[1]


def signed_order(conn: Connection, order_id: str) -> tuple[str, dict[str, Any]] | None:
    """The status page with its signature, what changes whenever the page does: the
    row's optimistic version and the number of timeline entries, as "version.entries"
    (the live feed's event id)."""
    row = conn.execute(_STATUS, {"order_id": order_id}).first()
    if row is None or row.customer_id is None:
        return None
    entries = conn.execute(_TIMELINE, {"order_id": order_id}).all()
    # Same moment: the earlier lifecycle status first.
    entries = sorted(entries, key=lambda e: (e.at, rank(e.status)))
    return f"{row.version}.{len(entries)}", {
        "order_id": row.order_id,
        "customer_id": row.customer_id,
        "store_id": row.store_id,
        "status": row.status,
        "total_amount": row.total_amount,
        "items": row.items or [],
        "timeline": [
            {"status": status, "at": at.isoformat(), "event_type": event_type}
            for status, at, event_type in entries
        ],
        # owner | timeout on a rejection (None for one published before it was said).
        "rejected_by": row.rejected_by if row.status == Status.REJECTED else None,
    }


def order_customer(conn: Connection, order_id: str) -> str | None:
    """Whose order it is; None while `order` would be None (the live feed's check,
    before its first read of the page)."""
    return conn.scalar(_CUSTOMER, {"order_id": order_id})


def order_since(
    conn: Connection, order_id: str, since: str | None
) -> tuple[str | None, dict[str, Any] | None]:
    """The order's signature, and its status page unless the signature is still
    `since` (the client has that one): a woken stream's one read."""
    signed = signed_order(conn, order_id)
    if signed is None:
        return None, None
    return (signed[0], None) if signed[0] == since else signed


def orders_since(
    conn: Connection, asked: list[tuple[str, str | None]]
) -> list[tuple[str | None, dict[str, Any] | None]]:
    """`order_since` for each (order, signature) asked, in one transaction: the reads
    of the streams one commit woke together."""
    return [order_since(conn, order_id, since) for order_id, since in asked]


def customer_orders(conn: Connection, customer_id: str, page: Page) -> list[dict[str, Any]]:
    """One customer's orders, newest first; orders not placed yet (their
    OrderPlaced still on its way) come last."""
    rows = conn.execute(
        select(*columns(order_status, OrderSummary))
        .where(order_status.c.customer_id == customer_id)
        .order_by(
            order_status.c.placed_at.is_(None),
            order_status.c.placed_at.desc(),
            order_status.c.order_id,
        )
        .limit(page.limit)
        .offset(page.offset)
    )
    return [shown(r) for r in rows]


def customer_notifications(conn: Connection, customer_id: str) -> list[dict[str, Any]]:
    """The messages decided for one customer, in the order they were decided.
    Never the phone number: it is not in this table."""
    rows = conn.execute(
        select(*columns(notifications, Notification))
        .where(notifications.c.customer_id == customer_id)
        .order_by(notifications.c.created_at, notifications.c.notification_id)
    )
    return [shown(r) for r in rows]
