"""The Delivery context's policies through the message bus, with real envelopes."""

from __future__ import annotations

import logging

import pytest

from delivery_service.domain import commands
from delivery_service.domain.model import DeliveryStatus
from delivery_service.service_layer.messagebus import create_bus
from delivery_service.service_layer.policies import open_delivery
from service_kit.kernel import MissingCause
from service_kit.uow import Trace
from shared_events import contract
from shared_events.envelope import Envelope
from shared_events.topics import ORDER_EVENTS, STORE_EVENTS

from ..events import (
    ADDRESS,
    CUSTOMER,
    ORDER,
    REGION,
    STORE,
    at,
    cook_started,
    envelope,
    order_cancelled,
    order_placed,
)
from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def bus(uow: FakeUnitOfWork):
    return create_bus(uow.factory)


async def deliver(bus, *envelopes: Envelope) -> None:
    for env in envelopes:
        await bus.handle_event(env, env.event())


async def test_order_placed_keeps_the_address_without_offering_anything(bus, uow):
    await deliver(bus, envelope(order_placed(), 0))

    d = uow.deliveries.rows[ORDER]
    assert (d.status, d.region, d.address_line, d.store_id, d.customer_id) == (
        DeliveryStatus.PENDING,
        REGION,
        ADDRESS,
        STORE,
        CUSTOMER,
    )
    assert d.placed_at == at(0)
    assert uow.committed
    assert uow.published == []


async def test_cook_started_opens_the_delivery_for_riders_in_the_region(bus, uow):
    await deliver(bus, envelope(order_placed(), 0), envelope(cook_started(), 3))

    d = uow.deliveries.rows[ORDER]
    assert (d.status, d.ready_at, d.updated_at) == (DeliveryStatus.WAITING, at(3), at(3))
    assert uow.published == []


async def test_cook_started_before_order_placed_waits_for_the_address(bus, uow):
    await deliver(bus, envelope(cook_started(), 3))
    d = uow.deliveries.rows[ORDER]
    assert (d.status, d.region, d.cook_started_at) == (DeliveryStatus.PENDING, None, at(3))

    await deliver(bus, envelope(order_placed(), 0))
    assert d.status == DeliveryStatus.WAITING


async def test_order_cancelled_publishes_delivery_cancelled_caused_by_it(bus, uow):
    cancel = envelope(order_cancelled(), 2)
    await deliver(bus, envelope(order_placed(), 0), envelope(cook_started(), 1), cancel)

    [published] = uow.published
    assert published.event() == contract.DeliveryCancelled(order_id=ORDER)
    assert published.causation_id == str(cancel.event_id)
    assert published.correlation_id == cancel.correlation_id
    assert uow.deliveries.rows[ORDER].status == DeliveryStatus.CANCELLED


async def test_order_cancelled_after_a_pick_cancels_the_delivery_too(bus, uow):
    await deliver(bus, envelope(order_placed(), 0), envelope(cook_started(), 1))
    await bus.handle(commands.PickFood(ORDER, "r-1"))

    await deliver(bus, envelope(order_cancelled(), 2))

    assert uow.deliveries.rows[ORDER].status == DeliveryStatus.CANCELLED
    assert [e.event_type for e in uow.published] == ["FoodPicked", "DeliveryCancelled"]


async def test_a_replayed_cancellation_under_a_new_event_id_publishes_nothing_new(bus, uow):
    await deliver(bus, envelope(order_placed(), 0), envelope(order_cancelled(), 1))
    await deliver(bus, envelope(order_cancelled(), 5), envelope(cook_started(), 6))

    assert [e.event_type for e in uow.published] == ["DeliveryCancelled"]
    assert uow.deliveries.rows[ORDER].status == DeliveryStatus.CANCELLED


async def test_the_same_envelope_twice_is_applied_once(bus, uow):
    placed = envelope(order_placed(), 0)
    assert await bus.handle_event(placed, placed.event()) is True
    assert await bus.handle_event(placed, placed.event()) is False


async def test_a_policy_needs_the_consumed_envelope(uow):
    uow.factory(Trace())
    with pytest.raises(MissingCause):
        await open_delivery(cook_started(), None, uow)
    assert uow.deliveries.rows == {}


async def test_the_address_is_never_logged(bus, uow, caplog):
    caplog.set_level(logging.DEBUG)
    await deliver(
        bus, envelope(order_placed(), 0), envelope(cook_started(), 1), envelope(order_cancelled())
    )
    await deliver(bus, envelope(order_placed("o-2"), 0), envelope(cook_started("o-2"), 1))
    await bus.handle(commands.PickFood("o-2", "r-1"))
    await bus.handle(commands.ConfirmDelivery("o-2", "r-1"))

    assert caplog.records  # the policies and handlers do log
    assert ADDRESS not in caplog.text


def test_the_worker_subscribes_to_order_and_store_events(bus):
    assert bus.subscribed_topics() == sorted([ORDER_EVENTS, STORE_EVENTS])
