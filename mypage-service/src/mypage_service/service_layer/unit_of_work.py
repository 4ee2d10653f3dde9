"""The Customer context's unit of work: the read model on one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from mypage_service.adapters.repository import ContactRepository, OrderStatusRepository
from service_kit.uow import Repository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "mypage-service"


class UnitOfWork(_UnitOfWork):
    orders: OrderStatusRepository
    contacts: ContactRepository

    def repositories(self) -> Iterable[Repository]:
        return (self.orders, self.contacts)


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        self.orders = OrderStatusRepository(session)
        self.contacts = ContactRepository(session)
