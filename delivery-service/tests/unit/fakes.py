"""In-memory repository and unit of work: the service layer runs unchanged on them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from delivery_service.domain.model import Delivery
from delivery_service.service_layer.unit_of_work import PRODUCER, UnitOfWork
from service_kit.kernel import ConcurrentChange
from service_kit.uow import FakeUnitOfWork as _FakeUnitOfWork
from service_kit.uow import Repository, Trace


class FakeDeliveryRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Delivery] = {}

    async def get(self, order_id: str) -> Delivery | None:
        return self._track(self.rows.get(order_id))

    def add(self, delivery: Delivery) -> None:
        self.rows[delivery.order_id] = self._track(delivery)


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.deliveries = FakeDeliveryRepository()
        # Each entry makes one commit lose its version check: it runs first (the
        # other transaction that won, e.g. replacing a row) and then the commit raises.
        self.races: list[Callable[[], None]] = []

    def repositories(self) -> Iterable[Repository]:
        return (self.deliveries,)

    def factory(self, trace: Trace) -> FakeUnitOfWork:
        """One shared in-memory state for every message, like one database."""
        self.trace = trace
        return self

    async def commit(self) -> None:
        if self.races:
            self.races.pop(0)()
            for aggregate in self.deliveries.seen:
                aggregate.pull_events()  # a rolled-back decision publishes nothing
            self.deliveries.seen.clear()
            raise ConcurrentChange()
        await super().commit()
