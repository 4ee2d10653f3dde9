"""In-memory repository and unit of work: the service layer runs unchanged on them."""

from __future__ import annotations

from collections.abc import Iterable

from mypage_service.domain.model import OrderStatusView
from mypage_service.service_layer.unit_of_work import PRODUCER, UnitOfWork
from shared_events.uow import FakeUnitOfWork as _FakeUnitOfWork
from shared_events.uow import Repository, Trace


class FakeOrderStatusRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, OrderStatusView] = {}

    async def get(self, order_id: str) -> OrderStatusView | None:
        return self._track(self.rows.get(order_id))

    def add(self, view: OrderStatusView) -> None:
        self.rows[view.order_id] = self._track(view)


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.orders = FakeOrderStatusRepository()

    def repositories(self) -> Iterable[Repository]:
        return (self.orders,)

    def factory(self, trace: Trace) -> FakeUnitOfWork:
        """One shared in-memory state for every event, like one database."""
        self.trace = trace
        return self
