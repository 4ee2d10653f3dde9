"""In-memory repositories, unit of work and notification log: the service layer and
the dispatcher run unchanged on them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from mypage_service.adapters.notification_log import Due, NotificationLog, Outcome
from mypage_service.domain.model import OrderStatusView
from mypage_service.domain.notification import Notification, NotificationState, OrderContact
from mypage_service.service_layer.unit_of_work import PRODUCER, UnitOfWork
from service_kit.uow import FakeUnitOfWork as _FakeUnitOfWork
from service_kit.uow import Repository, Trace


class FakeOrderStatusRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, OrderStatusView] = {}

    async def get(self, order_id: str) -> OrderStatusView | None:
        return self._track(self.rows.get(order_id))

    def add(self, view: OrderStatusView) -> None:
        self.rows[view.order_id] = self._track(view)


class FakeContactRepository(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, OrderContact] = {}

    async def get(self, order_id: str) -> OrderContact | None:
        return self.rows.get(order_id)

    def add(self, contact: OrderContact) -> None:
        self.rows.setdefault(contact.order_id, contact)  # the first phone stays


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.orders = FakeOrderStatusRepository()
        self.contacts = FakeContactRepository()

    def repositories(self) -> Iterable[Repository]:
        return (self.orders, self.contacts)

    def factory(self, trace: Trace) -> FakeUnitOfWork:
        """One shared in-memory state for every event, like one database."""
        self.trace = trace
        return self

    def notifications(self) -> list[Notification]:
        """Every notification decided so far, in the order they were decided."""
        found = [n for view in self.orders.rows.values() for n in view.notifications]
        return sorted(found, key=lambda n: n.created_at)


class FakeNotificationLog(NotificationLog):
    """The dispatcher's queries over the fake unit of work's objects."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _find(self, notification_id: str) -> Notification:
        return next(n for n in self._uow.notifications() if n.notification_id == notification_id)

    @staticmethod
    def _ready(n: Notification, now: datetime) -> bool:
        return n.state == NotificationState.PENDING and (
            n.next_attempt_at is None or n.next_attempt_at <= now
        )

    async def due(self, now: datetime, limit: int) -> list[Due]:
        due = []
        waiting: set[str] = set()  # orders with an older message still pending
        for n in self._uow.notifications():
            contact = self._uow.contacts.rows.get(n.order_id)
            first = n.order_id not in waiting
            if n.state == NotificationState.PENDING:
                waiting.add(n.order_id)
            if contact is not None and first and self._ready(n, now):
                due.append(
                    Due(
                        n.notification_id,
                        n.order_id,
                        n.status,
                        n.message,
                        n.attempts,
                        contact.phone,
                    )
                )
        return due[:limit]

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
        found = await self.due(now, limit)
        for due in found:
            n = self._find(due.notification_id)
            n.attempts += 1
            n.next_attempt_at = lease_until
        return found

    async def finish(self, outcome: Outcome, at: datetime) -> None:
        for notification_id in outcome.sent:
            n = self._find(notification_id)
            n.state, n.sent_at = NotificationState.SENT, at
        if outcome.failed is not None:
            n = self._find(outcome.failed.notification_id)
            if n.next_attempt_at == outcome.lease_until:
                n.last_error, n.next_attempt_at = outcome.failed.error, outcome.failed.retry_at
        for notification_id in outcome.untried:
            n = self._find(notification_id)
            if n.state == NotificationState.PENDING and n.next_attempt_at == outcome.lease_until:
                n.attempts -= 1
                n.next_attempt_at = None
