"""Repositories of the Kitchen context's aggregates."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select

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

    async def claim_due(self, now: datetime, limit: int) -> list[StoreOrder]:
        """Up to `limit` RECEIVED tickets whose deadline has passed, earliest first,
        through the (status, accept_by) index. On PostgreSQL they stay locked until the
        transaction ends and rows another transaction holds are skipped, never waited
        for; SQLite has no row locks but serialises writers (BEGIN IMMEDIATE)."""
        rows = await self._session.scalars(
            select(StoreOrder)
            .where(
                store_orders.c.status == TicketStatus.RECEIVED,
                store_orders.c.accept_by <= now,
            )
            .order_by(store_orders.c.accept_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [self._track(ticket) for ticket in rows]

    async def next_deadline(self) -> datetime | None:
        """The earliest deadline of a RECEIVED ticket (one index lookup), or None."""
        return await self._session.scalar(
            select(func.min(store_orders.c.accept_by)).where(
                store_orders.c.status == TicketStatus.RECEIVED
            )
        )
