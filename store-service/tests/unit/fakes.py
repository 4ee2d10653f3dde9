"""In-memory repositories and unit of work: the service layer runs unchanged on them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from service_kit.uow import FakeUnitOfWork as _FakeUnitOfWork
from service_kit.uow import Repository, Trace
from store_service.domain.model import MenuItem, Store
from store_service.domain.store_order import StoreOrder, TicketStatus
from store_service.service_layer.unit_of_work import PRODUCER, UnitOfWork


class FakeStoreRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Store] = {}

    async def get(self, store_id: str) -> Store | None:
        return self._track(self.rows.get(store_id))

    def add(self, store: Store) -> None:
        self.rows[store.store_id] = self._track(store)


class FakeMenuItemRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], MenuItem] = {}

    async def get(self, store_id: str, item_id: str) -> MenuItem | None:
        return self._track(self.rows.get((store_id, item_id)))

    def add(self, item: MenuItem) -> None:
        self.rows[(item.store_id, item.item_id)] = self._track(item)

    async def for_store(self, store_id: str, item_ids: Collection[str]) -> dict[str, MenuItem]:
        return {
            i: self._track(self.rows[(store_id, i)]) for i in item_ids if (store_id, i) in self.rows
        }

    async def list_for_store(self, store_id: str) -> list[MenuItem]:
        return [self._track(i) for (s, _), i in self.rows.items() if s == store_id]


class FakeStoreOrderRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, StoreOrder] = {}

    async def get(self, order_id: str) -> StoreOrder | None:
        return self._track(self.rows.get(order_id))

    def add(self, ticket: StoreOrder) -> None:
        self.rows[ticket.order_id] = self._track(ticket)

    def _waiting(self) -> list[StoreOrder]:
        return sorted(
            (t for t in self.rows.values() if t.status is TicketStatus.RECEIVED and t.accept_by),
            key=lambda t: t.accept_by,  # type: ignore[arg-type, return-value]
        )

    async def claim_due(self, now: datetime, limit: int) -> list[StoreOrder]:
        due = [t for t in self._waiting() if t.accept_by <= now]  # type: ignore[operator]
        return [self._track(t) for t in due[:limit]]

    async def next_deadline(self) -> datetime | None:
        waiting = self._waiting()
        return waiting[0].accept_by if waiting else None


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.stores = FakeStoreRepository()
        self.menu_items = FakeMenuItemRepository()
        self.store_orders = FakeStoreOrderRepository()

    def repositories(self) -> Iterable[Repository]:
        return (self.stores, self.menu_items, self.store_orders)

    def factory(self, trace: Trace) -> FakeUnitOfWork:
        """One shared in-memory state for every command, like one database."""
        self.trace = trace
        return self
