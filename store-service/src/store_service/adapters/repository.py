"""Repositories of the Kitchen context's aggregates."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.uow import Repository
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import StoreOrder, TicketStatus


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
                MenuItem.store_id == store_id,  # type: ignore[arg-type]
                MenuItem.item_id.in_(item_ids),  # type: ignore[attr-defined]
            )
        )
        return {item.item_id: self._track(item) for item in rows}

    async def list_for_store(self, store_id: str) -> list[MenuItem]:
        rows = await self._session.scalars(
            select(MenuItem).where(MenuItem.store_id == store_id)  # type: ignore[arg-type]
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

    async def claim_due(self, now: datetime, limit: int) -> list[StoreOrder]:
        """Up to `limit` RECEIVED tickets whose deadline has passed, earliest first,
        through the (status, accept_by) index. On PostgreSQL they stay locked until the
        transaction ends and rows another transaction holds are skipped, never waited
        for; SQLite has no row locks but serialises writers (BEGIN IMMEDIATE)."""
        rows = await self._session.scalars(
            select(StoreOrder)
            .where(
                StoreOrder.status == TicketStatus.RECEIVED,  # type: ignore[arg-type]
                StoreOrder.accept_by <= now,  # type: ignore[operator]
            )
            .order_by(StoreOrder.accept_by)  # type: ignore[arg-type]
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [self._track(ticket) for ticket in rows]

    async def next_deadline(self) -> datetime | None:
        """The earliest deadline of a RECEIVED ticket (one index lookup), or None."""
        return await self._session.scalar(
            select(func.min(StoreOrder.accept_by)).where(  # type: ignore[arg-type]
                StoreOrder.status == TicketStatus.RECEIVED  # type: ignore[arg-type]
            )
        )
