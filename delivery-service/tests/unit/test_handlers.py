"""Rider commands through the message bus, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from delivery_service.domain import commands
from delivery_service.domain.model import (
    Delivery,
    DeliveryNotFound,
    DeliveryStatus,
    NotYourDelivery,
    WrongState,
)
from delivery_service.service_layer.messagebus import create_bus
from service_kit.kernel import ConcurrentChange
from service_kit.retry import ATTEMPTS
from shared_events import contract
from shared_events.topics import DELIVERY_EVENTS

from ..events import ADDRESS, CUSTOMER, ORDER, REGION, STORE, at
from .fakes import FakeUnitOfWork

RIDER, OTHER = "r-1", "r-2"


def waiting(order_id: str = ORDER) -> Delivery:
    d = Delivery(order_id, at(0))
    d.learn_placement(STORE, CUSTOMER, ADDRESS, REGION, at(0))
    d.learn_cook_started(STORE, at(1))
    return d


@pytest.fixture
def uow() -> FakeUnitOfWork:
    fake = FakeUnitOfWork()
    fake.deliveries.rows[ORDER] = waiting()
    return fake


@pytest.fixture
def bus(uow: FakeUnitOfWork):
    return create_bus(uow.factory)


def events(uow: FakeUnitOfWork) -> list[contract.Payload]:
    return [envelope.event() for envelope in uow.published]


async def test_a_rider_picks_a_waiting_delivery_and_food_picked_is_published(bus, uow):
    delivery = await bus.handle(commands.PickFood(ORDER, RIDER))

    assert (delivery.status, delivery.rider_id) == (DeliveryStatus.PICKED, RIDER)
    [envelope] = uow.published
    assert envelope.event() == contract.FoodPicked(order_id=ORDER, rider_id=RIDER)
    assert (envelope.producer, envelope.aggregate_id) == ("delivery-service", ORDER)
    assert contract.FoodPicked.topic == DELIVERY_EVENTS


async def test_pick_confirm_then_return_publishes_each_step(bus, uow):
    await bus.handle(commands.PickFood(ORDER, RIDER))
    await bus.handle(commands.ConfirmDelivery(ORDER, RIDER))
    returned = await bus.handle(commands.ReturnDelivery(ORDER, RIDER, "customer refused"))

    assert returned.status == DeliveryStatus.RETURNED
    assert events(uow) == [
        contract.FoodPicked(order_id=ORDER, rider_id=RIDER),
        contract.DeliveryConfirmed(order_id=ORDER, rider_id=RIDER),
        contract.DeliveryReturned(order_id=ORDER, rider_id=RIDER, reason="customer refused"),
    ]


@pytest.mark.parametrize(
    "command",
    [
        commands.PickFood("nope", RIDER),
        commands.ConfirmDelivery("nope", RIDER),
        commands.ReturnDelivery("nope", RIDER, "customer refused"),
    ],
)
async def test_an_unknown_order_has_no_delivery(bus, uow, command):
    with pytest.raises(DeliveryNotFound):
        await bus.handle(command)
    assert uow.published == []


async def test_a_delivery_not_offered_yet_is_not_found(bus, uow):
    pending = Delivery("o-2", at(0))
    pending.learn_cook_started(STORE, at(0))  # no address yet
    uow.deliveries.rows["o-2"] = pending

    with pytest.raises(DeliveryNotFound):
        await bus.handle(commands.PickFood("o-2", RIDER))
    assert pending.status == DeliveryStatus.PENDING


async def test_the_second_pick_is_refused_with_the_current_state(bus, uow):
    await bus.handle(commands.PickFood(ORDER, RIDER))

    with pytest.raises(WrongState) as refused:
        await bus.handle(commands.PickFood(ORDER, OTHER))

    assert refused.value.current_state == "PICKED"
    assert uow.deliveries.rows[ORDER].rider_id == RIDER
    assert len(uow.published) == 1


async def test_another_rider_cannot_confirm_or_return(bus, uow):
    await bus.handle(commands.PickFood(ORDER, RIDER))

    with pytest.raises(NotYourDelivery):
        await bus.handle(commands.ConfirmDelivery(ORDER, OTHER))
    with pytest.raises(NotYourDelivery):
        await bus.handle(commands.ReturnDelivery(ORDER, OTHER, "customer refused"))
    assert uow.deliveries.rows[ORDER].status == DeliveryStatus.PICKED
    assert len(uow.published) == 1


async def test_a_pick_that_loses_the_race_is_refused_by_the_state_check(bus, uow):
    def other_rider_wins() -> None:
        winner = waiting()
        winner.pick(OTHER, at(2))
        winner.pull_events()  # published by the other transaction
        uow.deliveries.rows[ORDER] = winner

    uow.races.append(other_rider_wins)

    with pytest.raises(WrongState) as refused:
        await bus.handle(commands.PickFood(ORDER, RIDER))

    assert refused.value.current_state == "PICKED"
    assert uow.deliveries.rows[ORDER].rider_id == OTHER
    assert uow.published == []  # the loser's FoodPicked was rolled back


async def test_a_pick_that_lost_to_an_unrelated_change_succeeds_on_retry(bus, uow):
    uow.races.append(lambda: uow.deliveries.rows.__setitem__(ORDER, waiting()))

    delivery = await bus.handle(commands.PickFood(ORDER, RIDER))

    assert delivery.rider_id == RIDER
    assert events(uow) == [contract.FoodPicked(order_id=ORDER, rider_id=RIDER)]


async def test_a_pick_that_loses_every_attempt_is_a_conflict(bus, uow):
    uow.races.extend(lambda: uow.deliveries.rows.__setitem__(ORDER, waiting()) for _ in range(9))

    with pytest.raises(ConcurrentChange):
        await bus.handle(commands.PickFood(ORDER, RIDER))

    assert len(uow.races) == 9 - ATTEMPTS
    assert uow.published == []
