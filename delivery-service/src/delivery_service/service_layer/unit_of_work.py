"""The Delivery context's unit of work: its repository on one transaction."""

from __future__ import annotations

from sqlalchemy.orm.exc import StaleDataError

from delivery_service.adapters.repository import DeliveryRepository
from delivery_service.domain.model import ConcurrentChange
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "delivery-service"


class UnitOfWork(_UnitOfWork):
    deliveries: DeliveryRepository


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session."""

    async def commit(self) -> None:
        # The version check lost: said in the domain's words, so the service layer
        # can retry without knowing SQLAlchemy (and the HTTP edge answers 409).
        try:
            await super().commit()
        except StaleDataError as exc:
            raise ConcurrentChange() from exc
