"""The Customer context's unit of work: the read model on one transaction."""

from __future__ import annotations

from mypage_service.adapters.repository import ContactRepository, OrderStatusRepository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "mypage-service"


class UnitOfWork(_UnitOfWork):
    orders: OrderStatusRepository
    contacts: ContactRepository


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session."""
