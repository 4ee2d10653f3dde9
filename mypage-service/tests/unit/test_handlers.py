"""The projection policy through the message bus, on the in-memory unit of work."""

from datetime import UTC, datetime

import pytest

from mypage_service.service_layer.handlers import project_order_event
from mypage_service.service_layer.messagebus import create_bus
from service_kit.kernel import MissingCause
from service_kit.uow import Trace
from shared_events import contract
from shared_events.topics import DELIVERY_EVENTS, ORDER_EVENTS, STORE_EVENTS

from ..events import CUSTOMER, ORDER, STORE, at, envelope, happy_path, one_of_each, order_placed
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
        await project_order_event(order_placed(), None, uow)
    assert uow.orders.rows == {}


def test_the_worker_subscribes_to_all_three_topics(bus):
    assert bus.subscribed_topics() == sorted([ORDER_EVENTS, STORE_EVENTS, DELIVERY_EVENTS])


def test_every_event_of_an_order_is_routed_and_menu_changes_are_not(bus):
    routed = {model.event_type for model in bus.handled_event_types()}
    assert routed == {env.event_type for env in one_of_each()}
    assert contract.MenuItemChanged.event_type not in routed  # the consumer skips it


@pytest.mark.parametrize("env", one_of_each(), ids=lambda env: env.event_type)
async def test_every_event_of_an_order_goes_through_the_bus_onto_its_row(bus, uow, env):
    assert await bus.handle_event(env, env.event()) is True

    view = uow.orders.rows[ORDER]
    assert view.status is not None
    assert [n.status for n in view.notifications] == [view.status]
    assert uow.committed


async def test_a_status_change_and_its_message_commit_together_stamped_now(bus, uow):
    before = datetime.now(UTC)
    for env in happy_path()[:2]:
        await bus.handle_event(env, env.event())

    notifications = uow.notifications()
    assert [(n.status, n.state, n.customer_id) for n in notifications] == [
        ("PLACED", "PENDING", CUSTOMER),
        ("ACCEPTED", "PENDING", CUSTOMER),
    ]
    # Stamped when decided (creation order), not with the event's own time.
    assert all(n.created_at >= before for n in notifications)


async def test_redelivered_and_late_events_decide_no_second_message(bus, uow):
    placed, accepted, cooking, *_ = happy_path()
    for env in (placed, cooking, cooking, accepted, placed, accepted):
        await bus.handle_event(env, env.event())

    assert [n.status for n in uow.notifications()] == ["PLACED", "COOKING"]
    assert uow.orders.rows[ORDER].status == "COOKING"


async def test_order_placed_keeps_the_phone_apart_from_the_read_model(bus, uow):
    placed = envelope(order_placed())
    await bus.handle_event(placed, placed.event())

    contact = uow.contacts.rows[ORDER]
    assert contact.phone == "010-1234-5678"
    assert "010" not in repr(contact)
    assert "010-1234-5678" not in repr(vars(uow.orders.rows[ORDER]))


async def test_a_replayed_order_placed_keeps_the_first_phone(bus, uow):
    first = envelope(order_placed(), 0)
    replay = envelope(order_placed().model_copy(update={"phone": "010-0000-0000"}), 1)
    for env in (first, replay):
        await bus.handle_event(env, env.event())

    assert uow.contacts.rows[ORDER].phone == "010-1234-5678"


async def test_an_early_event_decides_its_message_before_the_phone_is_known(bus, uow):
    cooking = envelope(contract.CookStarted(order_id=ORDER, store_id=STORE), 2)
    await bus.handle_event(cooking, cooking.event())

    [notification] = uow.notifications()
    assert (notification.status, notification.customer_id) == ("COOKING", None)
    assert uow.contacts.rows == {}
