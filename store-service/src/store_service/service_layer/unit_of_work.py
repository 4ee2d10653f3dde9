"""The Kitchen context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.uow import Repository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork
from store_service.adapters.repository import (
    MenuItemRepository,
    StoreOrderRepository,
    StoreRepository,
)

PRODUCER = "store-service"


class UnitOfWork(_UnitOfWork):
    stores: StoreRepository
    menu_items: MenuItemRepository
    store_orders: StoreOrderRepository

    def repositories(self) -> Iterable[Repository]:
        return (self.stores, self.menu_items, self.store_orders)


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        self.stores = StoreRepository(session)
        self.menu_items = MenuItemRepository(session)
        self.store_orders = StoreOrderRepository(session)
