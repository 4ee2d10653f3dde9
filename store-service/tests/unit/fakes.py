"""In-memory repositories and unit of work: the service layer runs unchanged on them."""

from __future__ import annotations

from collections.abc import Iterable

from shared_events.uow import FakeUnitOfWork as _FakeUnitOfWork
from shared_events.uow import Repository, Trace
from store_service.domain.model import MenuItem, Store
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

    async def list_for_store(self, store_id: str) -> list[MenuItem]:
        return [self._track(i) for (s, _), i in self.rows.items() if s == store_id]


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.stores = FakeStoreRepository()
        self.menu_items = FakeMenuItemRepository()

    def repositories(self) -> Iterable[Repository]:
        return (self.stores, self.menu_items)

    def factory(self, trace: Trace) -> FakeUnitOfWork:
        """One shared in-memory state for every command, like one database."""
        self.trace = trace
        return self
