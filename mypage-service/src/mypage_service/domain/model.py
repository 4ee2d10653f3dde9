"""The `order_status` read model: one order as its customer sees it.

Built only from events. Any event of an order may be the first one to arrive,
so every field but the id and the status may be unknown for a while and is
filled in when an event that carries it comes along. Applying is idempotent and
commutative: the same events in any order, any number of times, give one state.

The view also owns the customer's notifications: a status change and the message
about it are one decision, committed together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mypage_service.domain.notification import Notification, message_for
from mypage_service.domain.status import Status, rank, status_for
from service_kit.kernel import Aggregate, EventMeta, Forbidden, NotFound
from shared_events.contract import OrderPlaced, OrderRejected, Payload

_TICK = timedelta(microseconds=1)


class OrderNotFound(NotFound, what="order"):
    """No event of the order has arrived here (yet)."""


class NotYourOrder(Forbidden, refusal="a customer sees only their own orders"):
    """Another customer's orders or notifications."""


def ensure_visible_to(customer_id: str | None, viewer: str) -> None:
    """Only the order's own customer sees it."""
    if viewer != customer_id:
        raise NotYourOrder()


class TimelineEntry:
    """When the order reached a status, and which event said so."""

    def __init__(self, status: str, at: datetime, event_type: str, event_id: str) -> None:
        self.status = status
        self.at = at
        self.event_type = event_type
        self.event_id = event_id

    def sort_key(self) -> tuple[datetime, int]:
        return self.at, rank(self.status)


@dataclass(eq=False)
class OrderStatusView(Aggregate):
    """Aggregate only so the unit of work can track it; it publishes nothing."""

    order_id: str
    status: str | None = None
    customer_id: str | None = None
    store_id: str | None = None
    total_amount: int | None = None
    items: list[dict[str, Any]] | None = None
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    # Who rejected the order (owner | timeout), once an OrderRejected that says so came.
    rejected_by: str | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def apply(self, event: Payload, cause: EventMeta, now: datetime | None = None) -> bool:
        """Fold one event in; True when the customer-visible status changed, which
        is when the customer's message about it is decided (once: the status only
        ever moves up, so no status is reached twice). `now` stamps that message
        (the projection passes the wall clock; by default the event's own time)."""
        status = status_for(event)
        if status is None:
            return False
        touched = self._learn(event, cause)
        touched |= self._record(status, cause)
        changed = rank(status) > rank(self.status)
        if changed:
            self.status = status
            self._notify(status, event, now or cause.occurred_at)
        if touched or changed:
            # The newest moment the order reached one of its statuses: a function of
            # the timeline alone, so any arrival order, a redelivery or a replay from
            # the beginning (entrypoints.rebuild) writes the same value.
            self.updated_at = max(entry.at for entry in self.timeline)
        return changed

    @property
    def is_final(self) -> bool:
        return self.status is not None and Status(self.status).is_terminal

    def ordered_timeline(self) -> list[TimelineEntry]:
        return sorted(self.timeline, key=TimelineEntry.sort_key)

    def notification_for(self, status: str) -> Notification | None:
        return next((n for n in self.notifications if n.status == status), None)

    def _notify(self, status: Status, event: Payload, now: datetime) -> None:
        if self.notification_for(status) is not None:
            return  # one message per status, whatever happens (the table says so too)
        message = message_for(self.order_id, status, event)
        if self.notifications:
            # Creation order is the order the customer reads them in: never a tie.
            now = max(now, max(n.created_at for n in self.notifications) + _TICK)
        self.notifications.append(
            Notification(self.order_id, self.customer_id, status, message, created_at=now)
        )

    def _learn(self, event: Payload, cause: EventMeta) -> bool:
        """Take the order's details from the events that carry them."""
        touched = self._learn_details(event, cause)
        if self.customer_id is not None:
            # Messages decided before the customer was known now know whose they are.
            for notification in self.notifications:
                if notification.customer_id is None:
                    notification.customer_id = self.customer_id
        return touched

    def _learn_details(self, event: Payload, cause: EventMeta) -> bool:
        if isinstance(event, OrderPlaced):
            if self.placed_at is not None and self.placed_at <= cause.occurred_at:
                return False  # known already; a replayed copy may only move placed_at back
            self.customer_id = event.customer_id
            self.store_id = event.store_id
            self.total_amount = event.total_amount
            # Only what the status page shows: no phone number, no address.
            self.items = [line.model_dump(mode="json") for line in event.items]
            self.placed_at = cause.occurred_at
            return True
        touched = False
        if isinstance(event, OrderRejected) and event.rejected_by and not self.rejected_by:
            self.rejected_by = event.rejected_by
            touched = True
        for name in ("customer_id", "store_id"):
            known = getattr(event, name, None)
            if known is not None and getattr(self, name) is None:
                setattr(self, name, known)
                touched = True
        return touched

    def _record(self, status: Status, cause: EventMeta) -> bool:
        """One timeline entry per status; when two events claim the same status
        the earlier one wins, so the result does not depend on arrival order."""
        entry = next((e for e in self.timeline if e.status == status), None)
        if entry is None:
            self.timeline.append(
                TimelineEntry(status, cause.occurred_at, cause.event_type, cause.event_id)
            )
            return True
        if (cause.occurred_at, cause.event_id) < (entry.at, entry.event_id):
            entry.at = cause.occurred_at
            entry.event_type = cause.event_type
            entry.event_id = cause.event_id
            return True
        return False
