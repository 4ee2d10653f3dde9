"""In-memory repositories and unit of work: the service layer runs unchanged on them.

Like a database, what a transaction adds or changes is only kept when it commits
(a rollback restores the rows it loaded), and the orders table refuses a second
order with one customer's Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from order_service.adapters.payment import FakeCardGateway
from order_service.domain.menu import MenuItemReplica
from order_service.domain.model import Order
from order_service.domain.payment import Payment, PaymentStatus
from order_service.service_layer.unit_of_work import PRODUCER, UnitOfWork
from service_kit.uow import FakeUnitOfWork as _FakeUnitOfWork
from service_kit.uow import Repository, Trace


class DuplicateKey(Exception):
    """What the database's unique constraint raises."""


class FakeTable(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[Any, Any] = {}
        self.pending: dict[Any, Any] = {}
        self.loaded: dict[int, tuple[Any, dict[str, Any]]] = {}  # id -> (row, its state)

    def _get(self, key: Any) -> Any:
        row = self.pending.get(key, self.rows.get(key))
        if row is not None and key in self.rows and id(row) not in self.loaded:
            self.loaded[id(row)] = (row, dict(vars(row)))
        return self._track(row)

    def _add(self, key: Any, row: Any) -> None:
        self.pending[key] = self._track(row)

    def check(self) -> None:
        """Constraints checked at commit time."""

    def persist(self) -> None:
        self.rows |= self.pending
        self.pending.clear()
        self.loaded.clear()

    def discard(self) -> None:
        for row in self.pending.values():
            row.pull_events()  # a rolled-back aggregate's events are never published
        self.pending.clear()
        for row, state in self.loaded.values():
            vars(row).clear()
            vars(row).update(state)
            row.pull_events()
        self.loaded.clear()


class FakeOrderRepository(FakeTable):
    async def get(self, order_id: str) -> Order | None:
        return self._get(order_id)

    async def get_by_idempotency_key(self, customer_id: str, key: str) -> Order | None:
        for order in [*self.pending.values(), *self.rows.values()]:
            if (order.customer_id, order.idempotency_key) == (customer_id, key):
                return self._track(order)
        return None

    def add(self, order: Order) -> None:
        self._add(order.order_id, order)

    def check(self) -> None:
        taken = {(o.customer_id, o.idempotency_key) for o in self.rows.values()}
        for order in self.pending.values():
            if order.idempotency_key and (order.customer_id, order.idempotency_key) in taken:
                raise DuplicateKey("uq_orders_customer_idempotency_key")


class FakePaymentRepository(FakeTable):
    async def get(self, order_id: str) -> Payment | None:
        return self._get(order_id)

    def add(self, payment: Payment) -> None:
        self._add(payment.order_id, payment)

    async def refund_pending(self, limit: int) -> list[str]:
        pending = [p for p in self.rows.values() if p.status is PaymentStatus.REFUND_PENDING]
        pending.sort(key=lambda p: (p.refund_requested_at, p.order_id))
        return [p.order_id for p in pending[:limit]]

    async def claim_refund(self, order_id: str) -> Payment | None:
        payment = await self.get(order_id)
        return payment if payment and payment.status is PaymentStatus.REFUND_PENDING else None


class FakeMenuReplicaRepository(FakeTable):
    async def get(self, store_id: str, menu_item_id: str) -> MenuItemReplica | None:
        return self._get((store_id, menu_item_id))

    def add(self, item: MenuItemReplica) -> None:
        self._add((item.store_id, item.menu_item_id), item)

    async def for_store(
        self, store_id: str, menu_item_ids: Collection[str]
    ) -> dict[str, MenuItemReplica]:
        found = {}
        for item_id in menu_item_ids:
            item = self._get((store_id, item_id))
            if item is not None:
                found[item_id] = item
        return found


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.orders = FakeOrderRepository()
        self.payments = FakePaymentRepository()
        self.menu = FakeMenuReplicaRepository()
        # Failure injection: the next commit raises before storing anything, or
        # stores everything and then raises (the reply was lost on the way back).
        self.fail_next_commit: Exception | None = None
        self.lose_next_commit_reply = False

    def repositories(self) -> Iterable[FakeTable]:
        return (self.orders, self.payments, self.menu)

    async def __aenter__(self) -> FakeUnitOfWork:
        for table in self.repositories():
            table.seen = set()  # like a new session: only what this transaction loads
        return await super().__aenter__()

    def factory(self, trace: Trace) -> FakeUnitOfWork:
        """One shared in-memory state for every command, like one database."""
        self.trace = trace
        return self

    async def commit(self) -> None:
        if self.fail_next_commit is not None:
            error, self.fail_next_commit = self.fail_next_commit, None
            raise error
        for table in self.repositories():
            table.check()
        await super().commit()
        for table in self.repositories():
            table.persist()
        if self.lose_next_commit_reply:
            self.lose_next_commit_reply = False
            raise ConnectionResetError("connection lost after COMMIT")

    async def rollback(self) -> None:
        await super().rollback()
        for table in self.repositories():
            table.discard()


class FlakyGateway(FakeCardGateway):
    """Refunds fail `failures` times (the PSP is down), then work again."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def refund(self, order_id: str, reference: str, amount: int) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.refund_calls.append(order_id)
            raise ConnectionError("payment gateway unavailable")
        await super().refund(order_id, reference, amount)
