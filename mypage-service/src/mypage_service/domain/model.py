"""The `order_status` read model: one order as its customer sees it.

Built only from events. Any event of an order may be the first one to arrive,
so every field but the id and the status may be unknown for a while and is
filled in when an event that carries it comes along. Applying is idempotent and
commutative: the same events in any order, any number of times, give one state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mypage_service.domain.status import Status, rank, status_for
from shared_events.contract import OrderPlaced, Payload
from shared_events.envelope import Envelope
from shared_events.kernel import Aggregate, Forbidden, NotFound


class OrderNotFound(NotFound):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")


class NotYourOrder(Forbidden):
    def __init__(self) -> None:
        super().__init__("a customer sees only their own orders")


def ensure_visible_to(customer_id: str | None, viewer: str | None) -> None:
    """Until real auth lands the viewer is optional; when given it must be the customer."""
    if viewer is not None and viewer != customer_id:
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


class OrderStatusView(Aggregate):
    """Aggregate only so the unit of work can track it; it publishes nothing."""

    def __init__(self, order_id: str) -> None:
        super().__init__()
        self.order_id = order_id
        self.status: str | None = None
        self.customer_id: str | None = None
        self.store_id: str | None = None
        self.total_amount: int | None = None
        self.items: list[dict[str, Any]] | None = None
        self.placed_at: datetime | None = None
        self.updated_at: datetime | None = None
        self.timeline: list[TimelineEntry] = []

    def apply(self, event: Payload, cause: Envelope) -> bool:
        """Fold one event in; True when the customer-visible status changed
        (the moment the customer is to be notified, once)."""
        status = status_for(event)
        if status is None:
            return False
        touched = self._learn(event, cause)
        touched |= self._record(status, cause)
        changed = rank(status) > rank(self.status)
        if changed:
            self.status = status
        if touched or changed:
            # The newest moment anything happened, whatever the arrival order.
            if self.updated_at is None or cause.occurred_at > self.updated_at:
                self.updated_at = cause.occurred_at
        return changed

    @property
    def is_final(self) -> bool:
        return self.status is not None and Status(self.status).is_terminal

    def ordered_timeline(self) -> list[TimelineEntry]:
        return sorted(self.timeline, key=TimelineEntry.sort_key)

    def _learn(self, event: Payload, cause: Envelope) -> bool:
        """Take the order's details from the events that carry them."""
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
        for field in ("customer_id", "store_id"):
            known = getattr(event, field, None)
            if known is not None and getattr(self, field) is None:
                setattr(self, field, known)
                touched = True
        return touched

    def _record(self, status: Status, cause: Envelope) -> bool:
        """One timeline entry per status; when two events claim the same status
        the earlier one wins, so the result does not depend on arrival order."""
        entry = next((e for e in self.timeline if e.status == status), None)
        if entry is None:
            self.timeline.append(
                TimelineEntry(status, cause.occurred_at, cause.event_type, str(cause.event_id))
            )
            return True
        if (cause.occurred_at, str(cause.event_id)) < (entry.at, entry.event_id):
            entry.at = cause.occurred_at
            entry.event_type = cause.event_type
            entry.event_id = str(cause.event_id)
            return True
        return False
