"""Any arrival order converges.

Order events (OrderPlaced, OrderCancelled) come in order on one topic, delivery events
(DeliveryConfirmed, DeliveryReturned) in order on another, and the two interleave in
every possible way; every event is delivered twice. Whatever the arrival, the ticket,
the stock and the events published end the same. The only thing that may differ is
whether stock was taken and then given back on the way (a DeliveryConfirmed that came
before the cancel or return), and then the replica is told both moves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from service_kit.testing import interleavings, twice
from shared_events.envelope import Envelope
from store_service.domain import commands
from store_service.service_layer.messagebus import create_bus

from ..events import (
    ORDER,
    OWNER,
    STORE,
    delivery_confirmed,
    delivery_returned,
    envelope,
    order_cancelled,
    order_placed,
)
from .fakes import FakeUnitOfWork

STOCK = {"m1": 10, "m2": 5}
LINES = (("m1", 2), ("m2", 1))

# Occurred-at minutes in causal order: placed, cancelled, confirmed, returned.
PLACED = envelope(order_placed(lines=LINES), minutes=0)
CANCELLED = envelope(order_cancelled(), minutes=1)
CONFIRMED = envelope(delivery_confirmed(), minutes=2)
RETURNED = envelope(delivery_returned(), minutes=3)


async def run(arrivals: Sequence[Envelope]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    bus = create_bus(uow.factory)
    await bus.handle(commands.RegisterStore(STORE, OWNER, "Hansik House", "gangnam"))
    for item_id, stock in STOCK.items():
        await bus.handle(commands.SetMenuItem(STORE, item_id, OWNER, item_id, 9000, stock))
    uow.published.clear()
    for env in twice(arrivals):
        await bus.handle_event(env, env.event())
    return uow


def final_state(uow: FakeUnitOfWork) -> dict[str, Any]:
    ticket = uow.store_orders.rows[ORDER]
    published = Counter(e.event_type for e in uow.published)
    published.pop("MenuItemChanged", None)  # counted per arrival, see moves_on_the_way
    return {
        "status": ticket.status,
        "placed": (ticket.store_id, ticket.customer_id, ticket.items, ticket.total_amount),
        "times": (ticket.placed_at, ticket.updated_at),
        "flags": (ticket.delivered, ticket.returned, ticket.stock_taken, ticket.taken),
        "stock": {i: uow.menu_items.rows[(STORE, i)].stock for i in STOCK},
        "published": dict(published),
    }


def replica_follows(uow: FakeUnitOfWork) -> None:
    """The last MenuItemChanged of each item tells the order-service its current stock."""
    last = {
        e.event().menu_item_id: e.event()
        for e in uow.published
        if e.event_type == "MenuItemChanged"
    }
    for item_id, event in last.items():
        assert (event.stock, event.available) == (
            uow.menu_items.rows[(STORE, item_id)].stock,
            uow.menu_items.rows[(STORE, item_id)].stock > 0,
        )


def menu_changes(uow: FakeUnitOfWork) -> int:
    return sum(1 for e in uow.published if e.event_type == "MenuItemChanged")


def taken_on_the_way(arrival: Sequence[Envelope]) -> bool:
    """Whether, at some point, the order was both placed and delivered while not yet
    cancelled nor returned: then the stock was taken (and later given back)."""
    known = max(arrival.index(PLACED), arrival.index(CONFIRMED))
    undone = [arrival.index(e) for e in (CANCELLED, RETURNED) if e in arrival]
    return known < min(undone)


def give_and_take(arrival: Sequence[Envelope]) -> int:
    return 2 * len(LINES) if taken_on_the_way(arrival) else 0


SCENARIOS = {
    # (a) delivered: the stock goes down by the ordered quantities, once.
    "placed+confirmed": (
        [PLACED],
        [CONFIRMED],
        {
            "status": "RECEIVED",
            "flags": (True, False, True, {"m1": 2, "m2": 1}),
            "stock": {"m1": 8, "m2": 4},
            "published": {},
        },
        lambda arrival: 2,
    ),
    # (b) delivered then returned: the stock ends where it began.
    "placed+confirmed+returned": (
        [PLACED],
        [CONFIRMED, RETURNED],
        {
            "status": "RECEIVED",
            "flags": (True, True, False, {}),  # delivered, returned, nothing held
            "stock": STOCK,
            "published": {},
        },
        give_and_take,
    ),
    # (c) cancelled, with a delivery that crossed the cancel: no stock moves in the end
    # (taken and given back when the delivery and the placement both came before the cancel).
    "placed+cancelled+confirmed": (
        [PLACED, CANCELLED],
        [CONFIRMED],
        {
            "status": "CANCELLED",
            "flags": (True, False, False, {}),
            "stock": STOCK,
            "published": {"CookingCancelled": 1},
        },
        give_and_take,
    ),
    "placed+cancelled+confirmed+returned": (
        [PLACED, CANCELLED],
        [CONFIRMED, RETURNED],
        {
            "status": "CANCELLED",
            "flags": (True, True, False, {}),
            "stock": STOCK,
            "published": {"CookingCancelled": 1},
        },
        give_and_take,
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_every_interleaving_delivered_twice_ends_in_one_state(scenario):
    order_stream, delivery_stream, expected, moves_on_the_way = SCENARIOS[scenario]
    states = []
    arrivals = list(interleavings(order_stream, delivery_stream))
    assert len(arrivals) > 1

    for arrival in arrivals:
        uow = await run(arrival)
        state = final_state(uow)
        assert {k: state[k] for k in expected} == expected, [e.event_type for e in arrival]
        assert menu_changes(uow) == moves_on_the_way(arrival), [e.event_type for e in arrival]
        replica_follows(uow)
        states.append(state)

    assert all(state == states[0] for state in states)
    assert states[0]["times"] == (PLACED.occurred_at, max(e.occurred_at for e in arrivals[0]))
