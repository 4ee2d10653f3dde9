"""The Ordering context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from typing import Any

from order_service.adapters.repository import (
    MenuReplicaRepository,
    OrderRepository,
    PaymentRepository,
)
from order_service.domain.model import RefundDue
from service_kit.uow import Changes
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "order-service"
# What a commit that left a refund owed announces (`changes`): the API process's
# refund dispatcher wakes at it (entrypoints.api), the worker's rejections included.
REFUNDS_OWED = "refunds"


class UnitOfWork(_UnitOfWork):
    orders: OrderRepository
    payments: PaymentRepository
    menu: MenuReplicaRepository


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session. A commit that made a refund
    owed (RefundDue) says so to `changes`, so the dispatcher need not poll for it."""

    def __init__(self, *args: Any, changes: Changes | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changes = changes

    async def commit(self) -> None:
        self.checkpoint()  # the events raised so far: RefundDue among the internal ones
        owed = any(isinstance(event, RefundDue) for event in self.internal_events)
        if owed and self._changes is not None and self.session is not None:
            await self._changes.changing(self.session, [REFUNDS_OWED])  # NOTIFY, committed
        await super().commit()
        if owed and self._changes is not None:
            self._changes.changed([REFUNDS_OWED])  # a datagram, once committed
