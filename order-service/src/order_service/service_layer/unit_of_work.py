"""The Ordering context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.repository import (
    MenuReplicaRepository,
    OrderRepository,
    PaymentRepository,
)
from service_kit.uow import Repository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "order-service"


class UnitOfWork(_UnitOfWork):
    orders: OrderRepository
    payments: PaymentRepository
    menu: MenuReplicaRepository

    def repositories(self) -> Iterable[Repository]:
        return (self.orders, self.payments, self.menu)


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)
        self.payments = PaymentRepository(session)
        self.menu = MenuReplicaRepository(session)
