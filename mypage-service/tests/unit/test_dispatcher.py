"""The notification dispatcher on the in-memory log, with a notifier that fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from mypage_service.adapters.notification_log import Due
from mypage_service.adapters.notifier import Message, Notifier
from mypage_service.service_layer.dispatcher import DispatchPolicy, notification_loop
from mypage_service.service_layer.messagebus import create_bus
from service_kit.claims import ClaimLoop
from service_kit.messagebus import MessageBus
from shared_events import contract
from shared_events.envelope import Envelope
from testkit import eventually as _eventually

from ..events import CUSTOMER, ORDER, STORE, T0, envelope, happy_path, order_placed
from ..notifiers import FakeNotifier, ManualClock
from .fakes import FakeNotificationLog, FakeUnitOfWork

POLICY = DispatchPolicy(backoff_initial=0.5, backoff_max=4.0, lease=30.0)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def bus(uow):
    return create_bus(uow.factory)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(days=1))


def dispatcher_for(uow, notifier: Notifier, clock, policy=POLICY) -> ClaimLoop:
    return notification_loop(FakeNotificationLog(uow), notifier, policy, clock=clock)


async def handle(bus: MessageBus[Any], *envs: Envelope) -> None:
    for env in envs:
        await bus.handle_event(env, env.event())


async def test_a_notifier_failing_three_times_then_recovering_sends_once_with_backoff(
    bus, uow, clock
):
    placed, accepted, *_ = happy_path()
    await handle(bus, placed)
    notifier = FakeNotifier(fail_next=3)
    dispatcher = dispatcher_for(uow, notifier, clock)
    [notification] = uow.notifications()

    waits = []
    while notification.state == "PENDING":
        await dispatcher.work_off()
        await dispatcher.work_off()  # inside the backoff: nothing is tried
        if notification.state == "PENDING":
            wait = notification.next_attempt_at - clock.now
            waits.append(wait.total_seconds())
            clock.now += wait

    assert waits == [0.5, 1.0, 2.0]  # doubling per attempt
    assert notifier.tries == 4
    assert (notification.state, notification.attempts) == ("SENT", 4)
    assert notification.sent_at == clock.now
    assert notification.last_error == "NotifierUnavailable: gateway answered 503"
    [message] = notifier.delivered
    assert (message.notification_id, message.phone) == (
        notification.notification_id,
        "010-1234-5678",
    )
    # The status moved on while the gateway was down, untouched by it.
    await handle(bus, accepted)
    assert uow.orders.rows[ORDER].status == "ACCEPTED"


def test_the_backoff_doubles_up_to_its_cap():
    assert [POLICY.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


async def test_a_message_waits_for_the_phone_then_goes_out(bus, uow, clock):
    cooking = envelope(contract.CookStarted(order_id=ORDER, store_id=STORE), 2)
    await handle(bus, cooking)
    notifier = FakeNotifier()
    dispatcher = dispatcher_for(uow, notifier, clock)

    await dispatcher.work_off()
    assert notifier.tries == 0  # no phone yet: not even tried, not counted
    assert uow.notifications()[0].attempts == 0

    await handle(bus, envelope(order_placed(), 0))
    await dispatcher.work_off()

    [message] = notifier.delivered
    assert message.status == "COOKING"  # PLACED was overtaken: no change, no message
    assert [(n.status, n.state, n.customer_id) for n in uow.notifications()] == [
        ("COOKING", "SENT", CUSTOMER)
    ]


async def test_the_oldest_goes_first(bus, uow, clock):
    for order_id in ("o-b", "o-a", "o-c"):
        await handle(bus, envelope(order_placed(order_id), 0))
    notifier = FakeNotifier()

    await dispatcher_for(uow, notifier, clock).work_off()

    assert [m.order_id for m in notifier.delivered] == ["o-b", "o-a", "o-c"]


async def test_one_orders_messages_go_out_in_order_even_across_a_backoff(bus, uow, clock):
    placed, accepted, *_ = happy_path()
    await handle(bus, placed, accepted)
    notifier = FakeNotifier(fail_next=1)
    dispatcher = dispatcher_for(uow, notifier, clock)

    await dispatcher.work_off()  # PLACED fails and backs off
    await dispatcher.work_off()  # ACCEPTED waits behind it
    assert notifier.delivered == []

    clock.now += timedelta(seconds=POLICY.backoff(1))
    assert await dispatcher.work_off()  # PLACED: the next one is due at once
    assert await dispatcher.work_off()  # ACCEPTED
    assert not await dispatcher.work_off()  # nothing left

    assert [m.status for m in notifier.delivered] == ["PLACED", "ACCEPTED"]


async def test_a_message_the_gateway_keeps_refusing_holds_up_no_other_order(bus, uow, clock):
    await handle(bus, envelope(order_placed("o-refused"), 0), envelope(order_placed("o-ok"), 0))
    notifier = FakeNotifier()
    notifier.refused_orders.add("o-refused")
    dispatcher = dispatcher_for(uow, notifier, clock)

    await dispatcher.work_off()  # the refusal ends this batch
    await dispatcher.work_off()  # the refused one waits its backoff; the next goes

    assert [m.order_id for m in notifier.delivered] == ["o-ok"]
    refused = uow.orders.rows["o-refused"].notifications[0]
    assert (refused.state, refused.attempts) == ("PENDING", 1)
    assert refused.last_error == "NotifierError: gateway refused the message: 400"


class LeakyNotifier(Notifier):
    async def send(self, message: Message) -> None:
        raise ValueError(f"cannot reach {message.phone}")


async def test_an_unexpected_error_is_stored_without_its_text(bus, uow, clock):
    await handle(bus, envelope(order_placed(), 0))

    await dispatcher_for(uow, LeakyNotifier(), clock).work_off()

    [notification] = uow.notifications()
    assert (notification.state, notification.last_error) == ("PENDING", "ValueError")


async def test_the_loop_rides_out_a_notifier_that_is_down_and_stops_cleanly(bus, uow):
    await handle(bus, *happy_path()[:2])
    notifier = FakeNotifier()
    notifier.down = True
    policy = DispatchPolicy(poll_interval=0.01, backoff_initial=0.01, backoff_max=0.05)
    dispatcher = notification_loop(FakeNotificationLog(uow), notifier, policy)

    task = asyncio.create_task(dispatcher.run())
    await eventually(lambda: notifier.tries >= 3, "three tries")
    assert {n.state for n in uow.notifications()} == {"PENDING"}

    notifier.down = False
    await eventually(lambda: all(n.state == "SENT" for n in uow.notifications()), "all sent")
    dispatcher.stop()
    await asyncio.wait_for(task, timeout=2)

    assert [m.status for m in notifier.delivered] == ["PLACED", "ACCEPTED"]
    assert notifier.closed
    assert dispatcher.failures >= 3 and dispatcher.done == 2


class UnreachableLog(FakeNotificationLog):
    """The database away for the first `outage` polls."""

    def __init__(self, uow: FakeUnitOfWork, outage: int) -> None:
        super().__init__(uow)
        self.outage = outage

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
        if self.outage > 0:
            self.outage -= 1
            raise ConnectionRefusedError("database away")
        return await super().claim_due(now, limit, lease_until)


async def test_the_loop_rides_out_the_database_being_away(bus, uow):
    await handle(bus, envelope(order_placed(), 0))
    notifier = FakeNotifier()
    policy = DispatchPolicy(poll_interval=0.01, backoff_initial=0.01, backoff_max=0.02)
    log = UnreachableLog(uow, outage=3)
    dispatcher = notification_loop(log, notifier, policy)

    task = asyncio.create_task(dispatcher.run())
    await eventually(lambda: len(notifier.delivered) == 1, "sent once the database is back")
    dispatcher.stop()
    await asyncio.wait_for(task, timeout=2)

    assert log.outage == 0


async def eventually(condition: Callable[[], bool], what: str) -> None:
    async def probe() -> bool:
        return condition()

    await _eventually(probe, within=3, interval=0.01, what=what)
