"""Any arrival order converges: for one order, every interleaving of its events per
topic, each delivered twice, ends in one final state with the same published events."""

from __future__ import annotations

from typing import Any

import pytest

from delivery_service.domain.model import DeliveryStatus
from delivery_service.service_layer.messagebus import create_bus
from service_kit.testing import interleavings, twice
from shared_events import contract
from shared_events.envelope import Envelope

from ..events import ORDER, envelope, order_placed
from ..events import cook_started as cook_started_event
from ..events import order_cancelled as order_cancelled_event
from .fakes import FakeUnitOfWork

# Causal order of the story: placed, then the kitchen starts, then the customer's
# cancel (which the order-service still accepted: it had not heard of the cook start).
placed = envelope(order_placed(), 0)
cook_started = envelope(cook_started_event(), 1)
cancelled = envelope(order_cancelled_event(), 2)

STORIES = {
    # topic fooddelivery.order.events, then fooddelivery.store.events
    "cancelled": ([placed, cancelled], [cook_started]),
    "not cancelled": ([placed], [cook_started]),
}


async def run(arrivals: list[Envelope]) -> tuple[dict[str, Any], list[contract.Payload]]:
    uow = FakeUnitOfWork()
    bus = create_bus(uow.factory)
    for env in arrivals:
        await bus.handle_event(env, env.event())
    delivery = uow.deliveries.rows[ORDER]
    state = {k: v for k, v in vars(delivery).items() if not k.startswith("_") and k != "events"}
    return state, [e.event() for e in uow.published]


@pytest.mark.parametrize("story", STORIES)
async def test_every_arrival_order_converges(story):
    orders = list(interleavings(*STORIES[story]))
    assert len(orders) == (3 if story == "cancelled" else 2)

    results = [await run(twice(arrivals)) for arrivals in orders]

    first_state, first_events = results[0]
    for arrivals, (state, published) in zip(orders, results, strict=True):
        sequence = [e.event_type for e in arrivals]
        assert state == first_state, sequence
        assert published == first_events, sequence

    if story == "cancelled":
        assert first_state["status"] == DeliveryStatus.CANCELLED  # no WAITING delivery left
        assert first_events == [contract.DeliveryCancelled(order_id=ORDER)]
    else:
        assert first_state["status"] == DeliveryStatus.WAITING
        assert first_events == []


async def test_cancelled_and_never_cooked_is_cancelled_once():
    state, published = await run(twice([placed, cancelled]))
    assert state["status"] == DeliveryStatus.CANCELLED
    assert published == [contract.DeliveryCancelled(order_id=ORDER)]
