"""Repositories of the Kitchen context's aggregates."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from service_kit.uow import SqlRepository
from store_service.adapters.orm import menu_items
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import StoreOrder


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
