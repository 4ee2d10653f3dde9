"""The Delivery context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from delivery_service.adapters.repository import DeliveryRepository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "delivery-service"


class UnitOfWork(_UnitOfWork):
    deliveries: DeliveryRepository


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session."""
