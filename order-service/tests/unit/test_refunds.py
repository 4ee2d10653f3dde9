"""The refund dispatcher on in-memory fakes: exactly one refund per rejected or
cancelled order, whatever fails on the way."""

import asyncio
from collections.abc import Callable

import pytest

from order_service.adapters.payment import FakeCardGateway
from order_service.domain.payment import PaymentStatus
from order_service.service_layer.refunds import Refunds
from service_kit.claims import ClaimLoop, ClaimsFailed, Pacing
from service_kit.uow import Trace
from shared_events.contract import OrderRejected

from .fakes import FlakyGateway
from .world import World, store_event


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll until the condition holds, failing at the deadline (never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def dispatcher(world: World, **pacing) -> ClaimLoop:
    return ClaimLoop(lambda: world.uow.factory(Trace()), Refunds(world.gateway), Pacing(**pacing))


async def test_a_cancelled_order_is_refunded_once():
    world = World()
    order_id = await world.place()
    await world.cancel(order_id)

    assert await world.refunds.work_off() == 1
    assert await world.refunds.work_off() == 0

    payment = world.payment(order_id)
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.refunded_at is not None
    assert world.gateway.refund_calls == [order_id]
    assert world.gateway.refunds == {payment.reference: 18000}
    assert world.gateway.charges[payment.reference].refunded


async def test_a_rejected_order_is_refunded():
    world = World()
    order_id = await world.place()
    await world.deliver(
        *store_event(OrderRejected(order_id=order_id, store_id="s1", reason="x"), 1)
    )

    await world.refunds.work_off()

    assert world.payment(order_id).status is PaymentStatus.REFUNDED
    assert world.gateway.refund_calls == [order_id]


async def test_a_charged_payment_is_never_refunded():
    world = World()
    order_id = await world.place()

    assert await world.refunds.work_off() == 0

    assert world.payment(order_id).status is PaymentStatus.CHARGED
    assert world.gateway.refund_calls == []


async def test_a_gateway_failure_leaves_the_refund_pending_until_the_gateway_recovers():
    world = World(gateway=FlakyGateway(failures=2))
    order_id = await world.place()
    await world.cancel(order_id)

    for _ in range(2):
        with pytest.raises(ClaimsFailed) as failed:
            await world.refunds.work_off()
        assert failed.value.items == [order_id]
        assert world.payment(order_id).status is PaymentStatus.REFUND_PENDING

    assert await world.refunds.work_off() == 1
    assert world.payment(order_id).status is PaymentStatus.REFUNDED
    assert world.gateway.refund_calls == [order_id] * 3
    assert len(world.gateway.refunds) == 1


async def test_the_running_dispatcher_retries_with_backoff_until_the_gateway_recovers():
    world = World(gateway=FlakyGateway(failures=3))
    order_id = await world.place()
    await world.cancel(order_id)
    task = asyncio.create_task(world.refunds.run())
    try:
        await eventually(lambda: world.payment(order_id).status is PaymentStatus.REFUNDED)
    finally:
        world.refunds.stop()
        await asyncio.wait_for(task, timeout=5)

    assert world.refunds.failures == 3
    assert world.refunds.done == 1
    assert world.gateway.refund_calls == [order_id] * 4
    assert len(world.gateway.refunds) == 1


class FailsFor(FakeCardGateway):
    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = set()

    async def refund(self, order_id: str, reference: str, amount: int) -> None:
        if order_id in self.broken:
            raise ConnectionError("this charge cannot be refunded right now")
        await super().refund(order_id, reference, amount)


async def test_one_failing_refund_does_not_hold_up_the_others():
    world = World(gateway=FailsFor())
    stuck, other = await world.place(), await world.place()
    world.gateway.broken.add(stuck)
    await world.cancel(stuck)
    await world.cancel(other)

    with pytest.raises(ClaimsFailed):
        await world.refunds.work_off()

    assert world.payment(stuck).status is PaymentStatus.REFUND_PENDING
    assert world.payment(other).status is PaymentStatus.REFUNDED


async def test_a_refund_whose_commit_was_lost_is_asked_again_and_given_once():
    world = World()
    order_id = await world.place()
    await world.cancel(order_id)
    world.uow.fail_next_commit = ConnectionResetError("database went away")

    with pytest.raises(ClaimsFailed):
        await world.refunds.work_off()
    assert world.payment(order_id).status is PaymentStatus.REFUND_PENDING

    assert await world.refunds.work_off() == 1
    assert world.payment(order_id).status is PaymentStatus.REFUNDED
    assert world.gateway.refund_calls == [order_id, order_id]  # asked twice ...
    assert len(world.gateway.refunds) == 1  # ... given back once (idempotent per order)


async def test_a_wake_starts_the_dispatcher_long_before_its_next_poll():
    world = World()
    refunds = dispatcher(world, poll_interval=60)
    order_id = await world.place()
    task = asyncio.create_task(refunds.run())
    try:
        await asyncio.sleep(0)  # let it find nothing and go idle
        await world.cancel(order_id)
        refunds.wake()
        await eventually(lambda: world.payment(order_id).refunded, within=2)
    finally:
        refunds.stop()
        await asyncio.wait_for(task, timeout=5)


async def test_without_a_wake_the_poll_finds_refunds_made_due_elsewhere():
    world = World()
    refunds = dispatcher(world, poll_interval=0.01)
    order_id = await world.place()
    task = asyncio.create_task(refunds.run())
    try:
        await asyncio.sleep(0)
        await world.cancel(order_id)  # world.wakes counts it; `refunds` never hears
        await eventually(lambda: world.payment(order_id).refunded, within=2)
    finally:
        refunds.stop()
        await asyncio.wait_for(task, timeout=5)


async def test_stop_interrupts_the_backoff():
    world = World(gateway=FlakyGateway(failures=10**6))
    refunds = dispatcher(world, backoff_multiplier=30, max_backoff=60)
    order_id = await world.place()
    await world.cancel(order_id)
    task = asyncio.create_task(refunds.run())
    await eventually(lambda: refunds.failures >= 1)

    refunds.stop()

    await asyncio.wait_for(task, timeout=1)
    assert world.payment(order_id).status is PaymentStatus.REFUND_PENDING
