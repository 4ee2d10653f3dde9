"""The Kitchen's policies through the message bus, on the in-memory unit of work."""

import logging

import pytest

from shared_events import contract
from shared_events.topics import DELIVERY_EVENTS, ORDER_EVENTS
from store_service.domain import commands
from store_service.domain.store_order import TicketStatus
from store_service.service_layer.messagebus import create_bus

from ..events import (
    CUSTOMER,
    ORDER,
    OWNER,
    STORE,
    at,
    delivery_confirmed,
    delivery_returned,
    envelope,
    order_cancelled,
    order_placed,
)
from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
async def bus(uow: FakeUnitOfWork):
    bus = create_bus(uow.factory)
    await bus.handle(commands.RegisterStore(STORE, OWNER, "Hansik House", "gangnam"))
    await bus.handle(commands.SetMenuItem(STORE, "m1", OWNER, "Bibimbap", 9000, 10))
    await bus.handle(commands.SetMenuItem(STORE, "m2", OWNER, "Barley tea", 1500, 5))
    uow.published.clear()
    return bus


async def deliver(bus, event: contract.Payload, minutes: int = 0) -> bool:
    env = envelope(event, minutes)
    return await bus.handle_event(env, env.event())


def stock(uow: FakeUnitOfWork, item: str = "m1") -> int:
    return uow.menu_items.rows[(STORE, item)].stock


def published(uow: FakeUnitOfWork, event_type: str) -> list[contract.Payload]:
    return [e.event() for e in uow.published if e.event_type == event_type]


def test_the_worker_subscribes_to_order_and_delivery_events(uow):
    assert create_bus(uow.factory).subscribed_topics() == sorted([DELIVERY_EVENTS, ORDER_EVENTS])


async def test_order_placed_registers_a_received_ticket_without_personal_data(bus, uow):
    assert await deliver(bus, order_placed(lines=(("m1", 2), ("m2", 1))), minutes=3)

    ticket = uow.store_orders.rows[ORDER]
    assert (ticket.status, ticket.store_id, ticket.customer_id) == ("RECEIVED", STORE, CUSTOMER)
    assert ticket.quantities() == {"m1": 2, "m2": 1}
    assert (ticket.total_amount, ticket.placed_at, ticket.updated_at) == (27000, at(3), at(3))
    assert not any(hasattr(ticket, name) for name in ("phone", "delivery_address"))
    assert uow.published == []  # registering a ticket publishes nothing


async def test_the_same_envelope_twice_is_applied_once(bus, uow):
    env = envelope(order_cancelled())
    await deliver(bus, order_placed())

    assert await bus.handle_event(env, env.event()) is True
    assert await bus.handle_event(env, env.event()) is False

    assert len(published(uow, "CookingCancelled")) == 1


async def test_order_cancelled_cancels_the_ticket_and_publishes_cooking_cancelled_once(bus, uow):
    await deliver(bus, order_placed())
    await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=True))
    await bus.handle(commands.StartCooking(ORDER, OWNER))

    await deliver(bus, order_cancelled(), minutes=1)
    await deliver(bus, order_cancelled(), minutes=2)  # a replay under a new event id

    assert uow.store_orders.rows[ORDER].status == TicketStatus.CANCELLED
    assert published(uow, "CookingCancelled") == [
        contract.CookingCancelled(order_id=ORDER, store_id=STORE)
    ]
    [env] = [e for e in uow.published if e.event_type == "CookingCancelled"]
    assert env.aggregate_id == ORDER


async def test_a_cancel_that_crossed_a_fast_kitchen_cancels_a_cooked_ticket(bus, uow):
    await deliver(bus, order_placed())
    for command in (
        commands.DecideOrder(ORDER, OWNER, accepted=True),
        commands.StartCooking(ORDER, OWNER),
        commands.FinishCooking(ORDER, OWNER),
    ):
        await bus.handle(command)

    await deliver(bus, order_cancelled(), minutes=1)

    assert uow.store_orders.rows[ORDER].status == TicketStatus.CANCELLED
    assert len(published(uow, "CookingCancelled")) == 1


async def test_a_rejected_ticket_stays_rejected_on_cancel(bus, uow):
    await deliver(bus, order_placed())
    await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=False, reason="closed"))

    await deliver(bus, order_cancelled(), minutes=1)

    assert uow.store_orders.rows[ORDER].status == TicketStatus.REJECTED
    assert published(uow, "CookingCancelled") == []


async def test_delivery_confirmed_takes_the_ordered_quantities_off_the_menu(bus, uow):
    await deliver(bus, order_placed(lines=(("m1", 2), ("m2", 1))))

    await deliver(bus, delivery_confirmed(), minutes=5)

    assert (stock(uow, "m1"), stock(uow, "m2")) == (8, 4)
    changed = {e.menu_item_id: e for e in published(uow, "MenuItemChanged")}
    assert (changed["m1"].stock, changed["m1"].available, changed["m1"].revision) == (8, True, 2)
    assert changed["m2"].stock == 4


async def test_delivery_returned_gives_the_stock_back(bus, uow):
    await deliver(bus, order_placed())
    await deliver(bus, delivery_confirmed(), minutes=5)

    await deliver(bus, delivery_returned(), minutes=6)

    assert stock(uow) == 10
    assert [e.stock for e in published(uow, "MenuItemChanged")] == [8, 10]


async def test_a_return_without_a_confirmed_delivery_moves_no_stock(bus, uow):
    await deliver(bus, order_placed())

    await deliver(bus, delivery_returned(), minutes=6)  # returned while PICKED

    assert stock(uow) == 10
    assert published(uow, "MenuItemChanged") == []


async def test_stock_stops_at_zero_and_says_so_in_the_log(bus, uow, caplog):
    await deliver(bus, order_placed(lines=(("m2", 7),)))

    with caplog.at_level(logging.WARNING):
        await deliver(bus, delivery_confirmed(), minutes=5)

    assert stock(uow, "m2") == 0
    [changed] = published(uow, "MenuItemChanged")
    assert (changed.stock, changed.available) == (0, False)
    assert "had 5 of 7 in stock" in caplog.text
    # Given back, exactly what was taken.
    await deliver(bus, delivery_returned(), minutes=6)
    assert stock(uow, "m2") == 5


async def test_an_item_unknown_here_is_skipped_and_logged(bus, uow, caplog):
    await deliver(bus, order_placed(lines=(("m1", 1), ("gone", 2))))

    with caplog.at_level(logging.WARNING):
        await deliver(bus, delivery_confirmed(), minutes=5)

    assert stock(uow) == 9
    assert "item s1/gone is unknown here" in caplog.text


async def test_delivery_confirmed_before_order_placed_waits_for_the_items(bus, uow):
    await deliver(bus, delivery_confirmed(), minutes=5)
    assert stock(uow) == 10
    assert not uow.store_orders.rows[ORDER].is_placed

    await deliver(bus, order_placed(), minutes=0)

    assert stock(uow) == 8
    ticket = uow.store_orders.rows[ORDER]
    assert (ticket.status, ticket.placed_at, ticket.updated_at) == ("RECEIVED", at(0), at(5))
