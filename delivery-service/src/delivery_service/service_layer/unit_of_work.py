"""The Delivery context's unit of work: its repository on one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from delivery_service.adapters.repository import DeliveryRepository
from service_kit.uow import Repository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "delivery-service"


class UnitOfWork(_UnitOfWork):
    deliveries: DeliveryRepository

    def repositories(self) -> Iterable[Repository]:
        return (self.deliveries,)


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        self.deliveries = DeliveryRepository(session)
