"""CancelOrder and the kitchen policies (OrderAccepted, OrderRejected, CookStarted)
through the message bus on in-memory fakes."""

import pytest

from order_service.domain.model import (
    ContradictoryStoreEvent,
    NotOrderOwner,
    OrderNotCancellable,
    OrderNotFound,
    OrderStatus,
)
from order_service.domain.payment import PaymentStatus
from service_kit.kernel import ConcurrentChange
from shared_events.contract import CookStarted, OrderAccepted, OrderCancelled, OrderRejected

from .world import World, store_event


@pytest.fixture
def world() -> World:
    return World()


def accepted(order_id: str, minutes: int = 1):
    return store_event(OrderAccepted(order_id=order_id, store_id="s1"), minutes)


def cooking(order_id: str, minutes: int = 2):
    return store_event(CookStarted(order_id=order_id, store_id="s1"), minutes)


def rejected(order_id: str, minutes: int = 1):
    return store_event(OrderRejected(order_id=order_id, store_id="s1", reason="sold out"), minutes)


# ---------------------------------------------------------------- cancel order


@pytest.mark.parametrize("kitchen", [[], ["accepted"]])
async def test_cancelling_publishes_order_cancelled_and_makes_the_refund_pending(world, kitchen):
    order_id = await world.place()
    if kitchen:
        await world.deliver(*accepted(order_id))

    await world.cancel(order_id)

    assert world.order(order_id).status is OrderStatus.CANCELLED
    assert world.cancellations() == [
        OrderCancelled(order_id=order_id, customer_id="c1", store_id="s1")
    ]
    [envelope] = [e for e in world.uow.published if e.event_type == "OrderCancelled"]
    assert (envelope.aggregate_id, envelope.producer) == (order_id, "order-service")
    payment = world.payment(order_id)
    assert payment.status is PaymentStatus.REFUND_PENDING
    assert payment.refund_requested_at is not None
    assert world.wakes == 1  # the in-process dispatcher is woken after the commit
    assert world.gateway.refund_calls == []  # the refund itself is the dispatcher's job


async def test_the_refund_event_is_internal_and_never_published(world):
    order_id = await world.place()

    await world.cancel(order_id)

    assert [e.event_type for e in world.uow.published] == [
        "OrderPlaced",
        "OrderCancelled",
    ]


@pytest.mark.parametrize(
    ("kitchen", "state"),
    [(["accepted", "cooking"], "COOKING"), (["rejected"], "REJECTED")],
)
async def test_too_late_to_cancel_is_409_and_changes_nothing(world, kitchen, state):
    order_id = await world.place()
    events = {"accepted": accepted, "cooking": cooking, "rejected": rejected}
    for name in kitchen:
        await world.deliver(*events[name](order_id))
    payment_before = world.payment(order_id).status
    wakes_before = world.wakes

    with pytest.raises(OrderNotCancellable) as refused:
        await world.cancel(order_id)

    assert refused.value.current_state == state
    assert world.order(order_id).status == state
    assert world.cancellations() == []
    assert world.payment(order_id).status is payment_before
    assert world.wakes == wakes_before


async def test_a_second_cancel_is_409_cancelled_and_refunds_nothing_more(world):
    order_id = await world.place()
    await world.cancel(order_id)

    with pytest.raises(OrderNotCancellable) as refused:
        await world.cancel(order_id)

    assert refused.value.current_state == "CANCELLED"
    assert len(world.cancellations()) == 1
    assert world.wakes == 1


async def test_another_customer_may_not_cancel(world):
    order_id = await world.place()

    with pytest.raises(NotOrderOwner):
        await world.cancel(order_id, customer_id="c2")

    assert world.order(order_id).status is OrderStatus.PLACED
    assert world.payment(order_id).status is PaymentStatus.CHARGED
    assert world.cancellations() == []


async def test_cancelling_an_unknown_order_is_not_found(world):
    with pytest.raises(OrderNotFound):
        await world.cancel("no-such-order")


async def test_a_cancel_losing_a_version_race_is_decided_again_on_fresh_state(world):
    order_id = await world.place()
    world.uow.fail_next_commit = ConcurrentChange("orders row changed concurrently")

    await world.cancel(order_id)

    assert world.order(order_id).status is OrderStatus.CANCELLED
    assert len(world.cancellations()) == 1
    assert world.payment(order_id).status is PaymentStatus.REFUND_PENDING


async def test_a_cancel_whose_commit_fails_leaves_nothing_half_applied(world):
    order_id = await world.place()
    world.uow.fail_next_commit = ConnectionResetError("database went away")

    with pytest.raises(ConnectionResetError):
        await world.cancel(order_id)

    assert world.order(order_id).status is OrderStatus.PLACED
    assert world.payment(order_id).status is PaymentStatus.CHARGED
    assert world.cancellations() == []
    assert world.wakes == 0


# ---------------------------------------------------------------- kitchen policies


async def test_the_kitchen_moves_the_order_through_accepted_and_cooking(world):
    order_id = await world.place()

    await world.deliver(*accepted(order_id))
    assert world.order(order_id).status is OrderStatus.ACCEPTED
    await world.deliver(*cooking(order_id))
    assert world.order(order_id).status is OrderStatus.COOKING

    assert world.payment(order_id).status is PaymentStatus.CHARGED
    assert [e.event_type for e in world.uow.published] == ["OrderPlaced"]  # nothing published


async def test_a_rejection_makes_the_refund_pending_and_publishes_nothing(world):
    order_id = await world.place()

    await world.deliver(*rejected(order_id))

    assert world.order(order_id).status is OrderStatus.REJECTED
    assert world.payment(order_id).status is PaymentStatus.REFUND_PENDING
    assert [e.event_type for e in world.uow.published] == ["OrderPlaced"]
    assert world.wakes == 1


@pytest.mark.parametrize("late", [accepted, cooking, rejected])
async def test_cancellation_wins_over_a_later_kitchen_event(world, late):
    order_id = await world.place()
    await world.cancel(order_id)
    published = list(world.uow.published)

    assert await world.deliver(*late(order_id)) is True  # applied: no error, no retry

    assert world.order(order_id).status is OrderStatus.CANCELLED
    assert world.uow.published == published
    assert world.wakes == 1  # no second refund


async def test_the_status_never_moves_backwards(world):
    order_id = await world.place()
    await world.deliver(*accepted(order_id))
    await world.deliver(*cooking(order_id))

    await world.deliver(*accepted(order_id, minutes=3))  # another, late OrderAccepted

    assert world.order(order_id).status is OrderStatus.COOKING


async def test_a_redelivered_kitchen_event_is_applied_once(world):
    order_id = await world.place()
    envelope, event = rejected(order_id)

    assert await world.deliver(envelope, event) is True
    assert await world.deliver(envelope, event) is False
    assert world.wakes == 1


async def test_a_kitchen_event_that_contradicts_the_order_is_refused(world):
    order_id = await world.place()
    await world.deliver(*rejected(order_id))
    envelope, event = cooking(order_id)

    with pytest.raises(ContradictoryStoreEvent):
        await world.deliver(envelope, event)

    assert world.order(order_id).status is OrderStatus.REJECTED
    assert str(envelope.event_id) not in world.uow.inbox.processed  # retried, then parked


async def test_a_kitchen_event_for_an_unknown_order_is_refused(world):
    envelope, event = accepted("never-placed")

    with pytest.raises(OrderNotFound):
        await world.deliver(envelope, event)
    assert world.uow.inbox.processed == set()
