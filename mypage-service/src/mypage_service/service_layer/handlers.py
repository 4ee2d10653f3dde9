"""Policies of the Customer context: project an order's events onto its status row,
and decide the customer's message whenever the visible status changes.

A policy runs inside the transaction the bus opened (`apply_once`), next to the
inbox record of the event, so it neither enters nor commits the unit of work:
the status change, its notification row and the event's inbox record commit
together or not at all. Sending happens later (service_layer.dispatcher).
"""

from __future__ import annotations

from collections.abc import Sequence

from mypage_service.domain.model import OrderStatusView
from mypage_service.domain.notification import OrderContact
from mypage_service.domain.status import OrderEvent
from mypage_service.service_layer.unit_of_work import UnitOfWork
from service_kit.kernel import EventMeta, required
from shared_events.contract import OrderPlaced, Payload
from shared_events.envelope import utcnow


async def project_order_event(event: OrderEvent, meta: EventMeta, uow: UnitOfWork) -> None:
    """Whenever an event of an order arrives: create or update its status row.

    The row may not exist yet whatever the event (arrival order is free), and may
    exist already even for OrderPlaced (a replay under a new event id): both are fine.
    """
    cause = required(meta)  # when, and which event: the timeline records both
    view = await uow.orders.get(event.order_id) or OrderStatusView(event.order_id)
    # A visible change adds the customer's notification to the view, in this transaction.
    view.apply(event, cause, now=utcnow())
    uow.orders.add(view)  # a no-op for a row that was already there
    if isinstance(event, OrderPlaced):
        _keep_contact(event, uow)


async def preload(uow: UnitOfWork, events: Sequence[Payload]) -> None:
    """A batch's status rows (with their timelines and notifications) in a few
    queries, before `project_order_event` asks for each."""
    await uow.orders.load(event.order_id for event in events if isinstance(event, OrderEvent))


def _keep_contact(event: OrderPlaced, uow: UnitOfWork) -> None:
    """The phone the messages go to; notifications decided before it was known
    have waited for it (the dispatcher only picks messages it can address). The
    first phone stays: a replay's is not written over it (no read needed)."""
    uow.contacts.add(OrderContact(event.order_id, event.phone))
