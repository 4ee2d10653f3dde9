"""The projection policy through the message bus, on the in-memory unit of work."""

import pytest

from mypage_service.service_layer.handlers import MissingCause, project_order_event
from mypage_service.service_layer.messagebus import create_bus, subscribed_topics
from shared_events.topics import ORDER_EVENTS
from shared_events.uow import Trace

from ..events import CUSTOMER, ORDER, at, envelope, order_placed
from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def bus(uow: FakeUnitOfWork):
    return create_bus(uow.factory)


async def test_order_placed_creates_a_placed_row_with_a_timeline_entry(bus, uow):
    placed = envelope(order_placed(), minutes=3)

    assert await bus.handle_event(placed, placed.event()) is True

    view = uow.orders.rows[ORDER]
    assert (view.status, view.customer_id, view.placed_at) == ("PLACED", CUSTOMER, at(3))
    assert [(e.status, e.at, e.event_type, e.event_id) for e in view.timeline] == [
        ("PLACED", at(3), "OrderPlaced", str(placed.event_id))
    ]
    assert uow.committed
    assert uow.published == []  # the read side publishes nothing


async def test_the_same_envelope_twice_leaves_one_timeline_entry(bus, uow):
    placed = envelope(order_placed())

    assert await bus.handle_event(placed, placed.event()) is True
    assert await bus.handle_event(placed, placed.event()) is False  # the inbox saw it

    assert len(uow.orders.rows[ORDER].timeline) == 1


async def test_a_replay_under_a_new_event_id_finds_the_row_and_changes_nothing(bus, uow):
    first = envelope(order_placed(), minutes=0)
    replay = envelope(order_placed(), minutes=5)

    await bus.handle_event(first, first.event())
    assert await bus.handle_event(replay, replay.event()) is True  # new id: applied

    view = uow.orders.rows[ORDER]
    assert [(e.status, e.event_id) for e in view.timeline] == [("PLACED", str(first.event_id))]
    assert view.placed_at == at(0)


async def test_the_projection_needs_the_consumed_envelope(uow):
    uow.factory(Trace())
    with pytest.raises(MissingCause):
        await project_order_event(order_placed(), uow)
    assert uow.orders.rows == {}


def test_the_worker_subscribes_to_the_order_events():
    assert subscribed_topics() == [ORDER_EVENTS]
