"""The Kitchen context's unit of work: its repositories on one transaction."""

from __future__ import annotations

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


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session."""
