"""The Ordering context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from order_service.adapters.repository import (
    MenuReplicaRepository,
    OrderRepository,
    PaymentRepository,
)
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "order-service"


class UnitOfWork(_UnitOfWork):
    orders: OrderRepository
    payments: PaymentRepository
    menu: MenuReplicaRepository


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session."""
