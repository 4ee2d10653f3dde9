"""Repositories of the Kitchen context's aggregates."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.uow import Repository
from store_service.adapters.orm import menu_items
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import StoreOrder


class StoreRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session

    async def get(self, store_id: str) -> Store | None:
        return self._track(await self._session.get(Store, store_id))

    def add(self, store: Store) -> None:
        self._session.add(self._track(store))


class MenuItemRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session

    async def get(self, store_id: str, item_id: str) -> MenuItem | None:
        return self._track(await self._session.get(MenuItem, (store_id, item_id)))

    def add(self, item: MenuItem) -> None:
        self._session.add(self._track(item))

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


class StoreOrderRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session

    async def get(self, order_id: str) -> StoreOrder | None:
        return self._track(await self._session.get(StoreOrder, order_id))

    def add(self, ticket: StoreOrder) -> None:
        self._session.add(self._track(ticket))
