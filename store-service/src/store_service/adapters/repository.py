"""Repositories of the Kitchen context's aggregates."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

from service_kit.claims import claimed
from service_kit.uow import SqlRepository
from store_service.adapters.orm import menu_items, store_orders
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import StoreOrder, TicketStatus


class StoreRepository(SqlRepository[Store]):
    entity = Store  # by store id


class MenuItemRepository(SqlRepository[MenuItem]):
    entity = MenuItem  # by (store id, item id)

    async def for_store(self, store_id: str, item_ids: Collection[str]) -> dict[str, MenuItem]:
        """The store's items among `item_ids`, by item id."""
        if not item_ids:
            return {}
        rows = await self._session.scalars(
            select(MenuItem).where(
                menu_items.c.store_id == store_id,
                menu_items.c.item_id.in_(item_ids),
            )
        )
        return {item.item_id: self._track(item) for item in rows}

    async def list_for_store(self, store_id: str) -> list[MenuItem]:
        rows = await self._session.scalars(
            select(MenuItem).where(menu_items.c.store_id == store_id)
        )
        return [self._track(item) for item in rows]


class StoreOrderRepository(SqlRepository[StoreOrder]):
    entity = StoreOrder  # the kitchen ticket, by order id

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Up to `limit` RECEIVED tickets whose deadline has passed, earliest first,
        through the (status, accept_by) index."""
        found = await self._session.scalars(
            select(store_orders.c.order_id)
            .where(store_orders.c.status == TicketStatus.RECEIVED, store_orders.c.accept_by <= now)
            .order_by(store_orders.c.accept_by)
            .limit(limit)
        )
        return list(found)

    async def claim_due(self, order_id: str, now: datetime) -> StoreOrder | None:
        """The ticket if it is still RECEIVED past its deadline and no one else holds
        it: locked until the transaction ends (service_kit.claims)."""
        found = await self._session.scalars(
            claimed(
                select(StoreOrder).where(
                    store_orders.c.order_id == order_id,
                    store_orders.c.status == TicketStatus.RECEIVED,
                    store_orders.c.accept_by <= now,
                )
            )
        )
        return self._track(found.first())

    async def next_deadline(self) -> datetime | None:
        """The earliest deadline of a RECEIVED ticket (one index lookup), or None."""
        return await self._session.scalar(
            select(func.min(store_orders.c.accept_by)).where(
                store_orders.c.status == TicketStatus.RECEIVED
            )
        )
