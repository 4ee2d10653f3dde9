"""Read queries of the Kitchen context (straight SQL, no aggregates), each a function
of a Core connection run with `platform.reads` (service_kit.reads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, bindparam, select

from service_kit.http import Page, Timestamp
from store_service.adapters.orm import menu_items, store_orders, stores
from store_service.domain.model import NotStoreOwner, StoreNotFound
from store_service.domain.store_order import TicketStatus


class StoreView(BaseModel):
    store_id: str
    owner_id: str
    name: str
    region: str


class MenuItemView(BaseModel):
    """A menu item as its owner just set it."""

    store_id: str
    item_id: str
    name: str
    price: int
    stock: int
    available: bool
    revision: int


class MenuLine(BaseModel):
    item_id: str
    name: str
    price: int
    stock: int
    available: bool


class MenuView(BaseModel):
    store_id: str
    name: str
    region: str
    items: list[MenuLine]


class StoreSummary(BaseModel):
    store_id: str
    name: str


class StoreList(BaseModel):
    region: str
    stores: list[StoreSummary]


class TicketLine(BaseModel):
    menu_item_id: str
    name: str
    quantity: int


class TicketView(BaseModel):
    """A kitchen ticket as its store owner sees it."""

    order_id: str
    store_id: str
    status: TicketStatus
    reason: str | None
    accept_by: Timestamp | None = Field(
        default=None, description="until when the owner may decide, while RECEIVED"
    )
    items: list[TicketLine]
    total_amount: int | None
    updated_at: Timestamp


class InboxView(BaseModel):
    store_id: str
    orders: list[TicketView]


# Built once: the owner's inbox (polled) and the menu start with it.
_STORE = select(stores).where(stores.c.store_id == bindparam("store_id"))


def menu(conn: Connection, store_id: str) -> dict[str, Any] | None:
    store = conn.execute(_STORE, {"store_id": store_id}).first()
    if store is None:
        return None
    items = conn.execute(
        select(menu_items).where(menu_items.c.store_id == store_id).order_by(menu_items.c.item_id)
    )
    return {
        "store_id": store.store_id,
        "name": store.name,
        "region": store.region,
        "items": [
            {
                "item_id": i.item_id,
                "name": i.name,
                "price": i.price,
                "stock": i.stock,
                "available": i.stock > 0,
            }
            for i in items
        ],
    }


def stores_in_region(conn: Connection, region: str, page: Page) -> dict[str, Any]:
    """The stores a customer can order from in `region` (public: names and ids only)."""
    query = (
        select(stores.c.store_id, stores.c.name)
        .where(stores.c.region == region)
        .order_by(stores.c.name, stores.c.store_id)
        .limit(page.limit)
        .offset(page.offset)
    )
    rows = conn.execute(query)
    return {"region": region, "stores": [{"store_id": r.store_id, "name": r.name} for r in rows]}


# The columns a ticket shows (`ticket`): the inbox, polled, reads nothing else (not the
# delivery facts, nor the stock bookkeeping's JSON, decoded per row).
_TICKET = tuple(
    store_orders.c[name]
    for name in (
        "order_id", "store_id", "status", "reason", "accept_by", "items", "total_amount",
        "updated_at",
    )
)  # fmt: skip


def ticket(row: Any) -> dict[str, Any]:
    """A kitchen ticket as its store owner sees it, in TicketView's shape (the routes
    answer it as is, http.Shaped); `row` is a StoreOrder or a table row."""
    status = TicketStatus(row.status)
    return {
        "order_id": row.order_id,
        "store_id": row.store_id,
        "status": status.value,
        "reason": row.reason if status is TicketStatus.REJECTED else None,
        # Until when the owner may still decide; only while there is something to decide.
        "accept_by": (
            row.accept_by.isoformat()
            if status is TicketStatus.RECEIVED and row.accept_by is not None
            else None
        ),
        "items": [
            {"menu_item_id": line.menu_item_id, "name": line.name, "quantity": line.quantity}
            for line in row.items or ()
        ],
        "total_amount": row.total_amount,
        "updated_at": row.updated_at.isoformat(),
    }


def store_inbox(
    conn: Connection,
    store_id: str,
    owner_id: str,
    status: TicketStatus | None,
    page: Page,
) -> dict[str, Any]:
    """The owner's inbox, newest order first; tickets whose OrderPlaced has not arrived
    yet are not shown (nothing about them is known)."""
    store = conn.execute(_STORE, {"store_id": store_id}).first()
    if store is None:
        raise StoreNotFound(store_id)
    if store.owner_id != owner_id:
        raise NotStoreOwner(store_id)
    params = {"store_id": store_id, "limit": page.limit, "offset": page.offset}
    if status is None:
        rows = conn.execute(_INBOX, params)
    else:
        rows = conn.execute(_INBOX_OF_STATUS, {**params, "status": status})
    return {"store_id": store_id, "orders": [ticket(row) for row in rows]}


def _inbox(*status: Any) -> Any:
    """The inbox's query, built once (building it and its cache key cost as much as
    running it): a store's placed tickets, newest first, a page of them."""
    return (
        select(*_TICKET)
        .where(
            store_orders.c.store_id == bindparam("store_id"),
            store_orders.c.placed_at.is_not(None),
            *status,
        )
        .order_by(store_orders.c.placed_at.desc(), store_orders.c.order_id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


_INBOX = _inbox()
_INBOX_OF_STATUS = _inbox(store_orders.c.status == bindparam("status"))
