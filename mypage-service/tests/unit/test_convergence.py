"""Any arrival order converges: every interleaving of an order's three topics,
every event delivered twice, through the real bus on the in-memory unit of work.

The status and the timeline are the same whatever the order. The NUMBER of
messages legitimately is not: a status overtaken before it arrived (DELIVERED
before PICKED) was never a change the customer saw. What holds every time: never
two messages for one status, each message is a step up, the final status has
one, and once dispatched each was delivered exactly once, to the order's phone.
"""

from __future__ import annotations

import pytest

from mypage_service.domain.status import rank
from mypage_service.service_layer.dispatcher import DispatchPolicy, notification_loop
from mypage_service.service_layer.messagebus import create_bus
from service_kit.testing import interleavings, twice
from shared_events.envelope import Envelope

from ..events import CUSTOMER, LIFECYCLES, ORDER, happy_streams
from ..notifiers import FakeNotifier
from .fakes import FakeNotificationLog, FakeUnitOfWork


async def deliver(arrivals: list[Envelope]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    bus = create_bus(uow.factory)
    for env in twice(arrivals):
        await bus.handle_event(env, env.event())
    return uow


async def dispatch_all(uow: FakeUnitOfWork) -> FakeNotifier:
    notifier = FakeNotifier()
    dispatcher = notification_loop(FakeNotificationLog(uow), notifier, DispatchPolicy())
    while await dispatcher.work_off():
        pass
    return notifier


@pytest.mark.parametrize("name", list(LIFECYCLES))
async def test_every_interleaving_twice_converges(name):
    streams, final, reached = LIFECYCLES[name]
    timelines = set()
    orders = list(interleavings(*streams()))
    assert len(orders) > 1 or name == "rejected"

    for arrivals in orders:
        uow = await deliver(arrivals)
        view = uow.orders.rows[ORDER]

        assert view.status == final, [e.event_type for e in arrivals]
        assert (view.customer_id, view.total_amount) == (CUSTOMER, 18000)
        timeline = frozenset((e.status, e.at, e.event_type) for e in view.timeline)
        assert {status for status, _, _ in timeline} == reached
        # Every stored column too, so a replay from the beginning writes the same row.
        timelines.add((timeline, view.placed_at, view.updated_at, view.store_id))

        notifications = uow.notifications()
        statuses = [n.status for n in notifications]
        assert len(statuses) == len(set(statuses)), statuses  # never two for one status
        assert statuses[-1] == final  # the final status always has its message
        assert [rank(s) for s in statuses] == sorted(rank(s) for s in statuses)
        assert set(statuses) <= reached
        assert all(n.customer_id == CUSTOMER for n in notifications)

        notifier = await dispatch_all(uow)
        assert [m.notification_id for m in notifier.delivered] == [
            n.notification_id for n in notifications
        ]
        assert {m.phone for m in notifier.delivered} == {"010-1234-5678"}
        assert all(n.state == "SENT" and n.attempts == 1 for n in notifications)

    assert len(timelines) == 1  # one row and timeline, whatever the order


async def test_causal_order_tells_every_step_and_an_overtaken_step_is_not_told():
    order, store, delivery = happy_streams()

    in_order = await deliver([*order, *store, *delivery])
    overtaken = await deliver([*order, *store, delivery[1], delivery[0]])

    assert [n.status for n in in_order.notifications()] == [
        "PLACED",
        "ACCEPTED",
        "COOKING",
        "COOKED",
        "PICKED",
        "DELIVERED",
    ]
    # DELIVERED came before PICKED: the customer never saw PICKED as a change.
    assert [n.status for n in overtaken.notifications()][-2:] == ["COOKED", "DELIVERED"]
