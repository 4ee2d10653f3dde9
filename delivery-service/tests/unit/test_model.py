"""The Delivery aggregate: facts in any order, the rider's state machine, every refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from delivery_service.domain.model import (
    Delivery,
    DeliveryStatus,
    NotYourDelivery,
    WrongState,
)
from service_kit.kernel import ConcurrentChange, Conflict, InvalidInput
from shared_events import contract

from ..events import ADDRESS, CUSTOMER, ORDER, REGION, STORE, at

RIDER, OTHER = "r-1", "r-2"


def placed(d: Delivery, minutes: int = 0) -> None:
    d.learn_placement(STORE, CUSTOMER, ADDRESS, REGION, at(minutes))


def cooking(d: Delivery, minutes: int = 1) -> None:
    d.learn_cook_started(STORE, at(minutes))


def cancelled(d: Delivery, minutes: int = 2) -> None:
    d.learn_cancelled(STORE, CUSTOMER, at(minutes))


def picked(d: Delivery) -> None:
    d.pick(RIDER, at(3))


def confirmed(d: Delivery) -> None:
    d.confirm(RIDER, at(4))


def returned(d: Delivery) -> None:
    d.return_food(RIDER, "customer refused", at(5))


Step = Callable[[Delivery], None]

# Every state a delivery can be in, with a way to get there.
STATES: dict[str, list[Step]] = {
    "PENDING (address only)": [placed],
    "PENDING (cooking only)": [cooking],
    "WAITING": [placed, cooking],
    "PICKED": [placed, cooking, picked],
    "DELIVERED": [placed, cooking, picked, confirmed],
    "RETURNED from PICKED": [placed, cooking, picked, returned],
    "RETURNED from DELIVERED": [placed, cooking, picked, confirmed, returned],
    "CANCELLED never offered": [placed, cancelled],
    "CANCELLED while WAITING": [placed, cooking, cancelled],
    "CANCELLED after PICKED": [placed, cooking, picked, cancelled],
}


def delivery_in(state: str) -> Delivery:
    d = Delivery(ORDER, first_seen_at=at(0))
    for step in STATES[state]:
        step(d)
    d.pull_events()
    return d


def published(d: Delivery) -> list[contract.Payload]:
    return d.pull_events()


# ---------------------------------------------------------------- facts


def test_the_address_alone_does_not_offer_it():
    d = Delivery(ORDER, at(0))
    placed(d)
    assert (d.status, d.is_offered) == (DeliveryStatus.PENDING, False)
    assert (d.region, d.address_line, d.store_id, d.customer_id) == (
        REGION,
        ADDRESS,
        STORE,
        CUSTOMER,
    )
    assert published(d) == []


@pytest.mark.parametrize("cook_first", [False, True])
def test_address_and_cook_start_open_it_in_either_order(cook_first):
    d = Delivery(ORDER, at(0))
    steps = [lambda: cooking(d, 1), lambda: placed(d, 0)]
    for step in steps if cook_first else reversed(steps):
        step()
    assert d.status == DeliveryStatus.WAITING
    assert d.ready_at == at(1)  # the moment both held, in event time
    assert d.updated_at == at(1)
    assert published(d) == []  # opening is internal: FoodPicked is the first event


def test_cooking_without_an_address_waits_for_the_address():
    d = delivery_in("PENDING (cooking only)")
    assert (d.status, d.region, d.address_line) == (DeliveryStatus.PENDING, None, None)


def test_cancelled_before_cooking_is_never_opened_and_cancelled_once():
    d = Delivery(ORDER, at(0))
    placed(d)
    cancelled(d)
    assert published(d) == [contract.DeliveryCancelled(order_id=ORDER)]

    cooking(d, 3)  # the kitchen's CookStarted crossed the cancellation
    cancelled(d, 4)  # a replay under a new event id
    assert d.status == DeliveryStatus.CANCELLED
    assert published(d) == []


@pytest.mark.parametrize("state", ["WAITING", "PICKED"])
def test_cancellation_wins_over_an_open_or_picked_delivery(state):
    d = delivery_in(state)
    cancelled(d, 9)
    assert d.status == DeliveryStatus.CANCELLED
    assert published(d) == [contract.DeliveryCancelled(order_id=ORDER)]
    assert d.updated_at == at(9)


def test_a_rider_holding_cancelled_food_cannot_confirm_it():
    d = delivery_in("CANCELLED after PICKED")
    assert d.rider_id == RIDER
    with pytest.raises(WrongState) as refused:
        d.confirm(RIDER, at(9))
    assert refused.value.current_state == "CANCELLED"


@pytest.mark.parametrize("state", ["DELIVERED", "RETURNED from PICKED", "RETURNED from DELIVERED"])
def test_a_cancellation_after_the_food_arrived_changes_nothing(state):
    d = delivery_in(state)
    before = d.status
    cancelled(d, 9)
    assert d.status == before
    assert published(d) == []


def test_facts_keep_their_earliest_time_whatever_the_arrival_order():
    d = Delivery(ORDER, at(5))
    cooking(d, 5)
    cooking(d, 2)  # a replay that happened earlier
    placed(d, 1)
    assert (d.cook_started_at, d.ready_at, d.updated_at) == (at(2), at(2), at(5))


# ---------------------------------------------------------------- rider commands


def test_a_rider_picks_confirms_and_each_step_is_published():
    d = delivery_in("WAITING")
    d.pick(RIDER, at(3))
    d.confirm(RIDER, at(4))
    assert (d.status, d.rider_id, d.picked_at, d.delivered_at, d.updated_at) == (
        DeliveryStatus.DELIVERED,
        RIDER,
        at(3),
        at(4),
        at(4),
    )
    assert published(d) == [
        contract.FoodPicked(order_id=ORDER, rider_id=RIDER),
        contract.DeliveryConfirmed(order_id=ORDER, rider_id=RIDER),
    ]


@pytest.mark.parametrize("state", ["PICKED", "DELIVERED"])
def test_the_rider_returns_picked_or_delivered_food_with_a_reason(state):
    d = delivery_in(state)
    d.return_food(RIDER, "  customer refused ", at(9))
    assert (d.status, d.return_reason, d.returned_at) == (
        DeliveryStatus.RETURNED,
        "customer refused",
        at(9),
    )
    assert published(d) == [
        contract.DeliveryReturned(order_id=ORDER, rider_id=RIDER, reason="customer refused")
    ]


Command = Callable[[Delivery], None]
COMMANDS: dict[str, Command] = {
    "pick": lambda d: d.pick(OTHER if d.rider_id is None else d.rider_id, at(9)),
    "confirm": lambda d: d.confirm(d.rider_id or RIDER, at(9)),
    "return": lambda d: d.return_food(d.rider_id or RIDER, "customer refused", at(9)),
}
ALLOWED = {
    ("pick", "WAITING"),
    ("confirm", "PICKED"),
    ("return", "PICKED"),
    ("return", "DELIVERED"),
}
REFUSED = [
    (command, state)
    for command in COMMANDS
    for state in STATES
    if (command, state.split(" ")[0]) not in ALLOWED
]


@pytest.mark.parametrize(("command", "state"), REFUSED)
def test_every_refused_transition_names_the_state_and_changes_nothing(command, state):
    d = delivery_in(state)
    before = dict(vars(d))

    with pytest.raises(WrongState) as refused:
        COMMANDS[command](d)

    assert isinstance(refused.value, Conflict)  # 409 at the HTTP edge
    assert refused.value.current_state == str(d.status) == state.split(" ")[0]
    assert dict(vars(d)) == before
    assert published(d) == []


def test_the_table_covers_every_state_and_its_allowed_moves_succeed():
    assert {s.split(" ")[0] for s in STATES} == {s.value for s in DeliveryStatus}
    for command, state in ALLOWED:
        d = delivery_in(state)
        COMMANDS[command](d)
        assert len(published(d)) == 1


@pytest.mark.parametrize("state", ["PICKED", "DELIVERED", "CANCELLED after PICKED"])
@pytest.mark.parametrize(
    "command",
    [
        lambda d: d.confirm(OTHER, at(9)),
        lambda d: d.return_food(OTHER, "customer refused", at(9)),
    ],
    ids=["confirm", "return"],
)
def test_only_the_rider_who_picked_confirms_or_returns(state, command):
    d = delivery_in(state)
    with pytest.raises(NotYourDelivery):
        command(d)
    assert published(d) == []


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_a_return_needs_a_reason(reason):
    d = delivery_in("PICKED")
    with pytest.raises(InvalidInput) as refused:
        d.return_food(RIDER, reason, at(9))
    assert refused.value.field == "reason"
    assert d.status == DeliveryStatus.PICKED


def test_the_address_never_shows_in_its_repr():
    d = delivery_in("PICKED")
    assert ADDRESS not in repr(d)
    assert ORDER in repr(d)


def test_a_concurrent_change_is_a_conflict():
    assert isinstance(ConcurrentChange(), Conflict)
