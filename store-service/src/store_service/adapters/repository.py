"""Repositories of the Kitchen context's aggregates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared_events.uow import Repository
from store_service.domain.model import MenuItem, Store


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

    async def list_for_store(self, store_id: str) -> list[MenuItem]:
        rows = await self._session.scalars(
            select(MenuItem).where(MenuItem.store_id == store_id)  # type: ignore[arg-type]
        )
        return [self._track(item) for item in rows]
