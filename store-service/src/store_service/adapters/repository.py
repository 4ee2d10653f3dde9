"""Repositories of the Kitchen context's aggregates, on Core (service_kit.repository)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import bindparam, func, select

from service_kit.claims import claimed
from service_kit.db import execute
from service_kit.repository import RowRepository
from store_service.adapters.orm import menu_items, store_orders, stores
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import StoreOrder, TicketStatus


class StoreRepository(RowRepository[Store]):
    entity = Store  # by store id
    table = stores


class MenuItemRepository(RowRepository[MenuItem]):
    entity = MenuItem  # by (store id, item id)
    table = menu_items

    async def for_store(self, store_id: str, item_ids: Collection[str]) -> dict[str, MenuItem]:
        """The store's items among `item_ids`, by item id."""
        if not item_ids:
            return {}
        found = await self._fetch(_ITEMS, {"store_id": store_id, "item_ids": sorted(item_ids)})
        return {item.item_id: item for item in found}

    async def list_for_store(self, store_id: str) -> list[MenuItem]:
        return await self._fetch(_MENU, {"store_id": store_id})


class StoreOrderRepository(RowRepository[StoreOrder]):
    entity = StoreOrder  # the kitchen ticket, by order id
    table = store_orders

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Up to `limit` RECEIVED tickets whose deadline has passed, earliest first,
        through the (status, accept_by) index."""
        found = await execute(self._session, _DUE, {"now": now, "limit": limit})
        return list(found.scalars())

    async def claim_due(self, order_id: str, now: datetime) -> StoreOrder | None:
        """The ticket if it is still RECEIVED past its deadline and no one else holds
        it: locked until the transaction ends (service_kit.claims)."""
        found = await self._fetch(_CLAIM_DUE, {"order_id": order_id, "now": now})
        return found[0] if found else None

    async def next_deadline(self) -> datetime | None:
        """The earliest deadline of a RECEIVED ticket (one index lookup), or None."""
        found = await execute(self._session, _NEXT_DEADLINE)
        deadline: datetime | None = found.scalar()
        return deadline


# Built once: a statement's construction and cache key cost more than running it.
_ITEMS = select(menu_items).where(
    menu_items.c.store_id == bindparam("store_id"),
    menu_items.c.item_id.in_(bindparam("item_ids", expanding=True)),
)
_MENU = select(menu_items).where(menu_items.c.store_id == bindparam("store_id"))
_RECEIVED = store_orders.c.status == TicketStatus.RECEIVED
_DUE = (
    select(store_orders.c.order_id)
    .where(_RECEIVED, store_orders.c.accept_by <= bindparam("now"))
    .order_by(store_orders.c.accept_by)
    .limit(bindparam("limit"))
)
_CLAIM_DUE = claimed(
    select(store_orders).where(
        store_orders.c.order_id == bindparam("order_id"),
        _RECEIVED,
        store_orders.c.accept_by <= bindparam("now"),
    )
)
_NEXT_DEADLINE = select(func.min(store_orders.c.accept_by)).where(_RECEIVED)
