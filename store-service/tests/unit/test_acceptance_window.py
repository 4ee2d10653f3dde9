"""The acceptance window in the domain: the deadline a placed ticket stores, and the
time-out that rejects it by the same state rule as the owner's decision."""

from datetime import timedelta

import pytest

from service_kit.kernel import Conflict
from shared_events import contract
from store_service.domain.store_order import (
    TIMEOUT_REASON,
    AcceptanceDeadlineSet,
    StoreOrder,
    TicketLine,
    TicketStatus,
    WrongTicketState,
)

from ..events import CUSTOMER, ORDER, STORE, WINDOW, at

LINES = (TicketLine("m1", "Bibimbap", 2),)


def placed(minutes: int = 0, window: timedelta = WINDOW) -> StoreOrder:
    ticket = StoreOrder(ORDER, at(minutes))
    ticket.place(STORE, CUSTOMER, LINES, 18000, at(minutes), window)
    return ticket


def test_a_placed_ticket_stores_its_deadline_and_announces_it_internally():
    ticket = placed(minutes=2)

    assert ticket.accept_by == at(2) + WINDOW
    assert ticket.pull_events() == [AcceptanceDeadlineSet(ORDER, at(2) + WINDOW)]


def test_a_replayed_placement_with_another_window_keeps_the_stored_deadline():
    ticket = placed(window=WINDOW)

    ticket.place(STORE, CUSTOMER, LINES, 18000, at(0), timedelta(hours=1))

    assert ticket.accept_by == at(0) + WINDOW


def test_a_placeholder_cancelled_before_its_placement_waits_for_no_one():
    ticket = StoreOrder(ORDER, at(0))
    ticket.cancel(STORE, CUSTOMER, at(0))
    ticket.pull_events()

    ticket.place(STORE, CUSTOMER, LINES, 18000, at(1), WINDOW)

    assert ticket.accept_by is None and not ticket.is_due(at(60))
    assert ticket.pull_events() == []


def test_before_the_deadline_the_time_out_changes_nothing():
    ticket = placed()
    ticket.pull_events()

    assert ticket.time_out(at(5) - timedelta(microseconds=1)) is False

    assert ticket.status is TicketStatus.RECEIVED and ticket.pull_events() == []


def test_at_the_deadline_a_received_ticket_is_rejected_not_accepted_in_time():
    ticket = placed()
    ticket.pull_events()

    assert ticket.time_out(at(5)) is True

    assert (ticket.status, ticket.reason, ticket.updated_at) == (
        TicketStatus.REJECTED,
        TIMEOUT_REASON,
        at(5),
    )
    assert ticket.pull_events() == [
        contract.OrderRejected(
            order_id=ORDER, store_id=STORE, reason="not accepted in time", rejected_by="timeout"
        )
    ]


def test_the_time_out_fires_once():
    ticket = placed()
    ticket.time_out(at(5))
    ticket.pull_events()

    assert ticket.time_out(at(6)) is False
    assert ticket.pull_events() == []


@pytest.mark.parametrize(
    "decide",
    [lambda t: t.accept(at(4)), lambda t: t.reject("sold out", at(4))],
    ids=["accepted", "rejected by the owner"],
)
def test_an_owner_who_decided_first_wins_and_the_time_out_raises_nothing(decide):
    ticket = placed()
    decide(ticket)
    status = ticket.status
    ticket.pull_events()

    assert ticket.time_out(at(5)) is False

    assert ticket.status is status and ticket.pull_events() == []


def test_a_cancelled_ticket_never_times_out():
    ticket = placed()
    ticket.cancel(STORE, CUSTOMER, at(1))
    ticket.pull_events()

    assert ticket.time_out(at(5)) is False
    assert ticket.status is TicketStatus.CANCELLED


@pytest.mark.parametrize(
    "decide",
    [lambda t: t.accept(at(6)), lambda t: t.reject("sold out", at(6))],
    ids=["accept", "reject"],
)
def test_after_the_time_out_the_owner_is_refused_naming_rejected(decide):
    ticket = placed()
    ticket.time_out(at(5))

    with pytest.raises(WrongTicketState) as refused:
        decide(ticket)

    assert isinstance(refused.value, Conflict)
    assert refused.value.current_state == "REJECTED"


def test_the_owner_still_decides_while_the_window_is_open_even_at_its_last_moment():
    ticket = placed()

    ticket.accept(at(5) - timedelta(microseconds=1))

    assert ticket.status is TicketStatus.ACCEPTED


def test_an_owner_rejection_says_it_was_the_owner():
    ticket = placed()
    ticket.pull_events()

    ticket.reject("sold out", at(1))

    [event] = ticket.pull_events()
    assert (event.reason, event.rejected_by) == ("sold out", "owner")
