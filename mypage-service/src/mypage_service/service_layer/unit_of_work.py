"""The Customer context's unit of work: the read model on one transaction."""

from __future__ import annotations

from typing import Any

from mypage_service.adapters.repository import ContactRepository, OrderStatusRepository
from mypage_service.domain.model import OrderStatusView
from service_kit.uow import Changes
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "mypage-service"


class UnitOfWork(_UnitOfWork):
    orders: OrderStatusRepository
    contacts: ContactRepository


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    """Each repository above, on one database session. A commit names the orders it
    touched to `changes`, so their open status pages re-read them at once."""

    def __init__(self, *args: Any, changes: Changes | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._changes = changes

    async def commit(self) -> None:
        # The repositories write on Core (adapters.repository): what changed goes into
        # this transaction at the commit below (their `save`), the inbox rows and outbox with it.
        touched = {v.order_id for v in self.orders.seen if isinstance(v, OrderStatusView)}
        if touched and self._changes is not None and self.session is not None:
            await self._changes.changing(self.session, touched)  # NOTIFY goes with the commit
        await super().commit()
        if touched and self._changes is not None:
            self._changes.changed(touched)  # a datagram, once committed
