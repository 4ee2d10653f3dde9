"""The kitchen ticket's state machine and the stock it holds, without any I/O."""

from collections.abc import Callable

import pytest

from service_kit.kernel import InvalidInput
from shared_events import contract
from store_service.domain.model import MenuItem
from store_service.domain.stock import reconcile_stock
from store_service.domain.store_order import (
    StoreOrder,
    StoreOrderNotFound,
    TicketLine,
    TicketStatus,
    WrongTicketState,
)

from ..events import CUSTOMER, ORDER, STORE, WINDOW, at

S = TicketStatus


def placed(lines: tuple[TicketLine, ...] = (TicketLine("m1", "Bibimbap", 2),)) -> StoreOrder:
    ticket = StoreOrder(ORDER, at(0))
    ticket.place(STORE, CUSTOMER, lines, 18000, at(0), WINDOW)
    return ticket


# How a ticket reaches each state, by the legitimate road.
ROADS: dict[TicketStatus, list[Callable[[StoreOrder], None]]] = {
    S.RECEIVED: [],
    S.ACCEPTED: [lambda t: t.accept(at(1))],
    S.REJECTED: [lambda t: t.reject("sold out", at(1))],
    S.COOKING: [lambda t: t.accept(at(1)), lambda t: t.start_cooking(at(2))],
    S.COOKED: [
        lambda t: t.accept(at(1)),
        lambda t: t.start_cooking(at(2)),
        lambda t: t.finish_cooking(at(3)),
    ],
    S.CANCELLED: [lambda t: t.cancel(STORE, CUSTOMER, at(1))],
}


def ticket_in(status: TicketStatus) -> StoreOrder:
    ticket = placed()
    for step in ROADS[status]:
        step(ticket)
    assert ticket.status == status
    ticket.pull_events()
    return ticket


ACTIONS: dict[str, tuple[Callable[[StoreOrder], None], TicketStatus, TicketStatus, type]] = {
    "accept": (lambda t: t.accept(at(9)), S.RECEIVED, S.ACCEPTED, contract.OrderAccepted),
    "reject": (
        lambda t: t.reject("sold out", at(9)),
        S.RECEIVED,
        S.REJECTED,
        contract.OrderRejected,
    ),
    "start": (lambda t: t.start_cooking(at(9)), S.ACCEPTED, S.COOKING, contract.CookStarted),
    "finish": (lambda t: t.finish_cooking(at(9)), S.COOKING, S.COOKED, contract.CookFinished),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_each_owner_action_moves_its_state_and_raises_its_event(action):
    act, source, target, event_type = ACTIONS[action]
    ticket = ticket_in(source)

    act(ticket)

    assert ticket.status == target
    assert ticket.updated_at == at(9)
    [event] = ticket.pull_events()
    assert isinstance(event, event_type)
    assert (event.order_id, event.store_id) == (ORDER, STORE)


REFUSED = [
    (action, status)
    for action, (_, source, _, _) in ACTIONS.items()
    for status in TicketStatus
    if status != source
]


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_every_other_state_refuses_the_action_and_names_itself(action, status):
    act = ACTIONS[action][0]
    ticket = ticket_in(status)
    before = ticket.updated_at

    with pytest.raises(WrongTicketState) as refused:
        act(ticket)

    assert refused.value.current_state == status.value
    assert ticket.status == status
    assert ticket.updated_at == before
    assert ticket.pull_events() == []


@pytest.mark.parametrize("action", ACTIONS)
def test_a_ticket_whose_order_was_not_placed_yet_is_not_found(action):
    ticket = StoreOrder(ORDER, at(0))  # a placeholder made by a delivery event

    with pytest.raises(StoreOrderNotFound):
        ACTIONS[action][0](ticket)
    assert ticket.pull_events() == []


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 201])
def test_rejecting_needs_a_reason(reason):
    ticket = ticket_in(S.RECEIVED)

    with pytest.raises(InvalidInput) as refused:
        ticket.reject(reason, at(1))

    assert refused.value.field == "reason"
    assert ticket.status == S.RECEIVED
    assert ticket.pull_events() == []


def test_the_reject_reason_is_kept_and_published_trimmed():
    ticket = ticket_in(S.RECEIVED)

    ticket.reject("  sold out ", at(1))

    [event] = ticket.pull_events()
    assert ticket.reason == event.reason == "sold out"


@pytest.mark.parametrize("status", [S.RECEIVED, S.ACCEPTED, S.COOKING, S.COOKED])
def test_cancellation_wins_over_every_live_state_even_a_cooked_one(status):
    ticket = ticket_in(status)

    assert ticket.cancel(STORE, CUSTOMER, at(9)) is True

    assert ticket.status == S.CANCELLED
    assert ticket.pull_events() == [contract.CookingCancelled(order_id=ORDER, store_id=STORE)]


@pytest.mark.parametrize("status", [S.REJECTED, S.CANCELLED])
def test_a_rejected_or_cancelled_ticket_stays_as_it_is_and_publishes_nothing(status):
    ticket = ticket_in(status)

    assert ticket.cancel(STORE, CUSTOMER, at(9)) is False

    assert ticket.status == status
    assert ticket.pull_events() == []


def test_a_placeholder_learns_its_order_and_keeps_the_state_it_reached():
    ticket = StoreOrder(ORDER, at(5))
    ticket.cancel(STORE, CUSTOMER, at(5))

    assert ticket.place(STORE, CUSTOMER, [TicketLine("m1", "Bibimbap", 2)], 18000, at(1), WINDOW)

    assert ticket.is_placed and ticket.status == S.CANCELLED
    assert (ticket.placed_at, ticket.updated_at) == (at(1), at(5))  # times never go back


def test_a_second_placement_changes_nothing():
    ticket = ticket_in(S.ACCEPTED)

    assert ticket.place("other", "other", [TicketLine("m9", "x", 9)], 1, at(9), WINDOW) is False

    assert (ticket.store_id, ticket.status, ticket.quantities()) == (STORE, S.ACCEPTED, {"m1": 2})


# ---------------------------------------------------------------- stock


def menu(**stock: int) -> dict[str, MenuItem]:
    items = {item_id: MenuItem(STORE, item_id, item_id, 9000, n) for item_id, n in stock.items()}
    for item in items.values():
        item.pull_events()
    return items


def test_a_delivered_ticket_takes_its_quantities_once():
    ticket, items = placed(), menu(m1=10)
    ticket.mark_delivered(at(1))

    first = reconcile_stock(ticket, items)
    second = reconcile_stock(ticket, items)

    assert (first.direction, first.moved, second.direction) == ("take", {"m1": 2}, None)
    assert items["m1"].stock == 8
    assert (ticket.stock_taken, ticket.taken) == (True, {"m1": 2})
    [changed] = items["m1"].pull_events()
    assert (changed.stock, changed.available, changed.revision) == (8, True, 2)


def test_stock_never_goes_below_zero_and_a_return_gives_back_what_was_taken():
    ticket, items = placed((TicketLine("m1", "a", 3), TicketLine("m2", "b", 1))), menu(m1=1)
    ticket.mark_delivered(at(1))

    taken = reconcile_stock(ticket, items)

    assert items["m1"].stock == 0 and not items["m1"].available
    assert [(s.menu_item_id, s.wanted, s.moved, s.unknown) for s in taken.shortfalls] == [
        ("m1", 3, 1, False),
        ("m2", 1, 0, True),
    ]
    ticket.mark_returned(at(2))
    given = reconcile_stock(ticket, items)
    assert (given.direction, given.moved) == ("give back", {"m1": 1})
    assert items["m1"].stock == 1
    assert (ticket.stock_taken, ticket.taken) == (False, {})


def test_lines_of_one_item_are_taken_together():
    ticket, items = placed((TicketLine("m1", "a", 2), TicketLine("m1", "a", 3))), menu(m1=10)
    ticket.mark_delivered(at(1))

    reconcile_stock(ticket, items)

    assert items["m1"].stock == 5


@pytest.mark.parametrize(
    ("placed_", "delivered", "returned", "cancelled", "holds"),
    [
        (True, True, False, False, True),
        (False, True, False, False, False),  # items unknown yet
        (True, False, False, False, False),
        (True, True, True, False, False),
        (True, True, False, True, False),
    ],
)
def test_stock_is_held_exactly_when_delivered_not_returned_not_cancelled_and_known(
    placed_, delivered, returned, cancelled, holds
):
    ticket = placed() if placed_ else StoreOrder(ORDER, at(0))
    if delivered:
        ticket.mark_delivered(at(1))
    if returned:
        ticket.mark_returned(at(2))
    if cancelled:
        ticket.cancel(STORE, CUSTOMER, at(3))

    assert ticket.holds_stock is holds
