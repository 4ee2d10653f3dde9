"""Policies of the Customer context: project an order's events onto its status row.

A policy runs inside the transaction the bus opened (`apply_once`), next to the
inbox record of the event, so it neither enters nor commits the unit of work.
"""

from __future__ import annotations

from typing import Any

from mypage_service.domain.model import OrderStatusView
from mypage_service.service_layer.unit_of_work import UnitOfWork
from shared_events.envelope import Envelope


class MissingCause(RuntimeError):
    """A projection needs the consumed envelope (when, which event) for the timeline."""


def _cause(uow: UnitOfWork) -> Envelope:
    cause = uow.trace.cause
    if cause is None:
        raise MissingCause("project order events through MessageBus.handle_event")
    return cause


async def project_order_event(event: Any, uow: UnitOfWork) -> None:
    """Whenever an event of an order arrives: create or update its status row.

    The row may not exist yet whatever the event (arrival order is free), and may
    exist already even for OrderPlaced (a replay under a new event id): both are fine.
    """
    view = await uow.orders.get(event.order_id) or OrderStatusView(event.order_id)
    view.apply(event, _cause(uow))  # True = visible change: notifications hook in here
    uow.orders.add(view)  # a no-op for a row that was already there
