"""The projection's rules, on the domain object alone: any order, any repeats, one result."""

import itertools

import pytest

from mypage_service.domain.model import OrderStatusView
from mypage_service.domain.status import PRECEDENCE, STATUS_BY_EVENT, TERMINAL, Status, rank
from service_kit.kernel import EventMeta
from shared_events import contract
from shared_events.contract import EVENT_MODELS

from ..events import CUSTOMER, ORDER, STORE, at, envelope, happy_path, one_of_each, order_placed


def fold(envelopes) -> OrderStatusView:
    view = OrderStatusView(ORDER)
    for env in envelopes:
        view.apply(env.event(), EventMeta.of(env))
    return view


def state(view: OrderStatusView) -> tuple:
    return (
        view.status,
        view.customer_id,
        view.total_amount,
        view.placed_at,
        view.updated_at,
        [(e.status, e.at, e.event_id) for e in view.ordered_timeline()],
    )


def test_order_placed_makes_a_placed_order_with_its_details_and_one_timeline_entry():
    placed = envelope(order_placed(), minutes=0)
    view = OrderStatusView(ORDER)

    assert view.apply(placed.event(), EventMeta.of(placed)) is True

    assert (view.status, view.customer_id, view.store_id, view.total_amount) == (
        "PLACED",
        CUSTOMER,
        STORE,
        18000,
    )
    assert view.items == [
        {
            "menu_item_id": "m1",
            "name": "Bibimbap",
            "unit_price": 9000,
            "quantity": 2,
            "line_total": 18000,
        }
    ]
    assert view.placed_at == view.updated_at == at(0)
    [entry] = view.timeline
    assert (entry.status, entry.at, entry.event_type, entry.event_id) == (
        "PLACED",
        at(0),
        "OrderPlaced",
        str(placed.event_id),
    )


def test_the_same_envelope_twice_changes_nothing_the_second_time():
    placed = envelope(order_placed())
    view = OrderStatusView(ORDER)
    view.apply(placed.event(), EventMeta.of(placed))

    assert view.apply(placed.event(), EventMeta.of(placed)) is False
    assert len(view.timeline) == 1


def test_the_phone_number_and_address_are_not_kept():
    placed = envelope(order_placed())
    view = fold([placed])

    kept = repr(vars(view))
    assert "010-1234-5678" not in kept
    assert "Teheran" not in kept


def test_a_later_status_overtaking_order_placed_is_kept_and_the_details_filled_in_later():
    *_, delivered = happy_path()
    placed = happy_path()[0]
    view = OrderStatusView(ORDER)

    assert view.apply(delivered.event(), EventMeta.of(delivered)) is True
    assert (view.status, view.customer_id, view.placed_at) == ("DELIVERED", None, None)

    # OrderPlaced arrives last: the details appear, the status does not go back.
    assert view.apply(placed.event(), EventMeta.of(placed)) is False
    assert (view.status, view.customer_id, view.total_amount) == ("DELIVERED", CUSTOMER, 18000)
    assert [e.status for e in view.ordered_timeline()] == ["PLACED", "DELIVERED"]
    assert view.updated_at == delivered.occurred_at


def test_every_arrival_order_of_the_happy_path_converges():
    envelopes = happy_path()
    expected = state(fold(envelopes))

    for order in itertools.permutations(envelopes):
        assert state(fold(order)) == expected
    assert expected[0] == "DELIVERED"
    assert [s for s, _, _ in expected[-1]] == [
        "PLACED",
        "ACCEPTED",
        "COOKING",
        "COOKED",
        "PICKED",
        "DELIVERED",
    ]


def test_the_visible_status_changes_once_per_step_whatever_the_order():
    """What notifications will count on: True exactly when the status moved up."""
    envelopes = happy_path()
    view = OrderStatusView(ORDER)
    in_order = [view.apply(env.event(), EventMeta.of(env)) for env in envelopes]
    assert in_order == [True] * len(envelopes)

    view = OrderStatusView(ORDER)
    backwards = [view.apply(env.event(), EventMeta.of(env)) for env in reversed(envelopes)]
    assert backwards == [True] + [False] * (len(envelopes) - 1)


@pytest.mark.parametrize("cancel_first", [True, False])
def test_cancellation_wins_when_it_crosses_with_cooking(cancel_first):
    placed = envelope(order_placed(), 0)
    cancelled = envelope(
        contract.OrderCancelled(order_id=ORDER, customer_id=CUSTOMER, store_id=STORE), 2
    )
    cooking = envelope(contract.CookStarted(order_id=ORDER, store_id=STORE), 1)
    crossing = [cancelled, cooking] if cancel_first else [cooking, cancelled]

    view = fold([placed, *crossing])

    assert view.status == "CANCELLED"
    assert view.is_final


def test_two_events_claiming_one_status_keep_the_earliest():
    cancelled = envelope(
        contract.OrderCancelled(order_id=ORDER, customer_id=CUSTOMER, store_id=STORE), 1
    )
    cooking_cancelled = envelope(contract.CookingCancelled(order_id=ORDER, store_id=STORE), 2)

    for order in ([cancelled, cooking_cancelled], [cooking_cancelled, cancelled]):
        view = fold(order)
        [entry] = view.timeline
        assert (entry.status, entry.at, entry.event_type) == ("CANCELLED", at(1), "OrderCancelled")
        # The later claim changed nothing the row shows, whichever came first.
        assert view.updated_at == at(1)


def test_an_event_that_says_nothing_about_an_order_status_is_ignored():
    menu = envelope(
        contract.MenuItemChanged(
            store_id=STORE,
            menu_item_id="m1",
            name="Bibimbap",
            price=9000,
            stock=1,
            available=True,
            revision=1,
        )
    )
    view = OrderStatusView(ORDER)

    assert view.apply(menu.event(), EventMeta.of(menu)) is False
    assert view.status is None and view.timeline == []


def test_terminal_statuses_outrank_every_other_status():
    lowest_terminal = min(rank(s) for s in TERMINAL)
    assert all(rank(s) < lowest_terminal for s in Status if s not in TERMINAL)
    assert PRECEDENCE[-1] == Status.CANCELLED
    assert set(PRECEDENCE) == set(Status)


def test_every_event_about_an_order_maps_to_a_visible_status():
    order_events = {m for m in EVENT_MODELS if "order_id" in m.model_fields}
    assert order_events == set(STATUS_BY_EVENT)
    assert contract.MenuItemChanged not in STATUS_BY_EVENT


@pytest.mark.parametrize("env", one_of_each(), ids=lambda env: env.event_type)
def test_every_event_of_an_order_projects_alone_onto_a_new_row(env):
    """Any event may be the first to arrive: it makes the row, its status, its
    timeline entry and the customer's message about that status."""
    event = env.event()
    view = OrderStatusView(ORDER)

    assert view.apply(event, EventMeta.of(env)) is True

    expected = STATUS_BY_EVENT[type(event)]
    assert view.status == expected
    assert view.updated_at == env.occurred_at
    [entry] = view.timeline
    assert (entry.status, entry.at, entry.event_type, entry.event_id) == (
        expected,
        env.occurred_at,
        env.event_type,
        str(env.event_id),
    )
    [notification] = view.notifications
    assert (notification.status, notification.state, notification.attempts) == (
        expected,
        "PENDING",
        0,
    )
    # Only OrderPlaced and OrderCancelled name the customer.
    assert notification.customer_id == getattr(event, "customer_id", None)
    assert notification.message.startswith(f"[주문 {ORDER[:8]}] ")


def test_a_status_change_decides_one_message_and_a_non_change_none():
    placed, accepted = happy_path()[:2]
    view = fold([placed])
    replayed = envelope(order_placed(), 9)  # same order, a new event id

    assert view.apply(replayed.event(), EventMeta.of(replayed)) is False
    assert view.apply(accepted.event(), EventMeta.of(accepted), now=at(30)) is True
    assert view.apply(accepted.event(), EventMeta.of(accepted)) is False

    assert [(n.status, n.created_at) for n in view.notifications] == [
        ("PLACED", at(0)),  # stamped with the event's time when no `now` is given
        ("ACCEPTED", at(30)),
    ]
    assert view.notifications[0].message == f"[주문 {ORDER[:8]}] 주문이 접수되었습니다."


def test_a_message_decided_before_the_customer_is_known_learns_whose_it_is():
    *_, delivered = happy_path()
    view = fold([delivered])
    assert view.notification_for("DELIVERED").customer_id is None

    placed = envelope(order_placed(), 0)
    view.apply(placed.event(), EventMeta.of(placed))

    assert [(n.status, n.customer_id) for n in view.notifications] == [("DELIVERED", CUSTOMER)]


def test_a_rejection_message_quotes_the_reason():
    rejected = envelope(contract.OrderRejected(order_id=ORDER, store_id=STORE, reason="sold out"))

    [notification] = fold([rejected]).notifications

    assert notification.message.endswith("(사유: sold out)")


@pytest.mark.parametrize("rejected_by", ["owner", "timeout", None])
def test_a_rejection_keeps_who_rejected_in_any_arrival_order(rejected_by):
    placed = envelope(order_placed(), minutes=0)
    rejected = envelope(
        contract.OrderRejected(
            order_id=ORDER, store_id=STORE, reason="not accepted in time", rejected_by=rejected_by
        ),
        minutes=5,
    )

    for arrivals in ([placed, rejected], [rejected, placed], [placed, rejected, rejected]):
        view = fold(arrivals)
        assert (view.status, view.rejected_by) == ("REJECTED", rejected_by)


def test_a_rejection_by_the_acceptance_window_tells_the_customer_the_store_did_not_answer():
    rejected = envelope(
        contract.OrderRejected(
            order_id=ORDER, store_id=STORE, reason="not accepted in time", rejected_by="timeout"
        ),
        minutes=5,
    )

    placed, notification = fold([envelope(order_placed()), rejected]).notifications

    assert (placed.status, notification.status) == ("PLACED", "REJECTED")
    assert "제시간에 주문을 수락하지 않아" in notification.message
    assert "환불" in notification.message


def test_the_phone_number_is_in_no_message():
    view = fold(happy_path())

    assert all("010-1234-5678" not in repr(vars(n)) for n in view.notifications)
