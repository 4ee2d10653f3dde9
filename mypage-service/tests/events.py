"""Envelopes of an order's events as mypage receives them, at chosen moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared_events import contract
from shared_events.envelope import Envelope, wrap

ORDER = "o-1"
CUSTOMER = "c-1"
STORE = "s-1"
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope(event: contract.Payload, minutes: int = 0) -> Envelope:
    return wrap(event, producer="test", occurred_at=at(minutes))


def order_placed(order_id: str = ORDER, customer_id: str = CUSTOMER) -> contract.OrderPlaced:
    return contract.OrderPlaced(
        order_id=order_id,
        customer_id=customer_id,
        store_id=STORE,
        items=[
            contract.OrderLine(
                menu_item_id="m1", name="Bibimbap", unit_price=9000, quantity=2, line_total=18000
            )
        ],
        total_amount=18000,
        delivery_address=contract.DeliveryAddress(line="12 Teheran-ro", region="gangnam"),
        phone="010-1234-5678",
    )


def happy_path() -> list[Envelope]:
    """Placed to delivered, one minute apart."""
    events: list[contract.Payload] = [
        order_placed(),
        contract.OrderAccepted(order_id=ORDER, store_id=STORE),
        contract.CookStarted(order_id=ORDER, store_id=STORE),
        contract.CookFinished(order_id=ORDER, store_id=STORE),
        contract.FoodPicked(order_id=ORDER, rider_id="r-1"),
        contract.DeliveryConfirmed(order_id=ORDER, rider_id="r-1"),
    ]
    return [envelope(e, minutes=i) for i, e in enumerate(events)]


# ------------------------------------------------------------- whole lifecycles
# One order's events as its three topics carry them: each topic's events in
# their own (causal) order, stamped in causal order across topics.
Streams = tuple[list[Envelope], list[Envelope], list[Envelope]]  # order, store, delivery


def _accepted(m: int) -> Envelope:
    return envelope(contract.OrderAccepted(order_id=ORDER, store_id=STORE), m)


def _cancelled(m: int) -> Envelope:
    return envelope(
        contract.OrderCancelled(order_id=ORDER, customer_id=CUSTOMER, store_id=STORE), m
    )


def _kitchen(m: int) -> list[Envelope]:
    """Accepted, cooking, cooked: one minute apart from minute m."""
    return [
        _accepted(m),
        envelope(contract.CookStarted(order_id=ORDER, store_id=STORE), m + 1),
        envelope(contract.CookFinished(order_id=ORDER, store_id=STORE), m + 2),
    ]


def _picked(m: int) -> Envelope:
    return envelope(contract.FoodPicked(order_id=ORDER, rider_id="r-1"), m)


def _confirmed(m: int) -> Envelope:
    return envelope(contract.DeliveryConfirmed(order_id=ORDER, rider_id="r-1"), m)


def _returned(m: int) -> Envelope:
    return envelope(
        contract.DeliveryReturned(order_id=ORDER, rider_id="r-1", reason="customer refused"), m
    )


def _cooking_cancelled(m: int) -> Envelope:
    return envelope(contract.CookingCancelled(order_id=ORDER, store_id=STORE), m)


def _delivery_cancelled(m: int) -> Envelope:
    return envelope(contract.DeliveryCancelled(order_id=ORDER), m)


def happy_streams() -> Streams:
    return [envelope(order_placed(), 0)], _kitchen(1), [_picked(4), _confirmed(5)]


def rejected_streams() -> Streams:
    rejected = contract.OrderRejected(order_id=ORDER, store_id=STORE, reason="sold out")
    return [envelope(order_placed(), 0)], [envelope(rejected, 1)], []


def cancelled_before_acceptance_streams() -> Streams:
    return (
        [envelope(order_placed(), 0), _cancelled(1)],
        [_cooking_cancelled(2)],
        [_delivery_cancelled(2)],
    )


def cancelled_after_acceptance_streams() -> Streams:
    return (
        [envelope(order_placed(), 0), _cancelled(2)],
        [_accepted(1), _cooking_cancelled(3)],
        [_delivery_cancelled(3)],
    )


def cancel_crossing_cooking_streams() -> Streams:
    """The customer cancels as the kitchen starts cooking: both commit, the kitchen
    then cancels the ticket and delivery cancels the delivery it just opened."""
    cook_started = envelope(contract.CookStarted(order_id=ORDER, store_id=STORE), 2)
    return (
        [envelope(order_placed(), 0), _cancelled(2)],
        [_accepted(1), cook_started, _cooking_cancelled(3)],
        [_delivery_cancelled(4)],
    )


def returned_streams() -> Streams:
    return [envelope(order_placed(), 0)], _kitchen(1), [_picked(4), _returned(5)]


def returned_after_delivery_streams() -> Streams:
    return [envelope(order_placed(), 0)], _kitchen(1), [_picked(4), _confirmed(5), _returned(6)]


# name -> (streams, final status, the statuses its timeline records)
LIFECYCLES = {
    "happy path": (
        happy_streams,
        "DELIVERED",
        {"PLACED", "ACCEPTED", "COOKING", "COOKED", "PICKED", "DELIVERED"},
    ),
    "rejected": (rejected_streams, "REJECTED", {"PLACED", "REJECTED"}),
    "cancelled before acceptance": (
        cancelled_before_acceptance_streams,
        "CANCELLED",
        {"PLACED", "CANCELLED"},
    ),
    "cancelled after acceptance": (
        cancelled_after_acceptance_streams,
        "CANCELLED",
        {"PLACED", "ACCEPTED", "CANCELLED"},
    ),
    "cancel crossing cooking": (
        cancel_crossing_cooking_streams,
        "CANCELLED",
        {"PLACED", "ACCEPTED", "COOKING", "CANCELLED"},
    ),
    "returned": (
        returned_streams,
        "RETURNED",
        {"PLACED", "ACCEPTED", "COOKING", "COOKED", "PICKED", "RETURNED"},
    ),
    "returned after delivery": (
        returned_after_delivery_streams,
        "RETURNED",
        {"PLACED", "ACCEPTED", "COOKING", "COOKED", "PICKED", "DELIVERED", "RETURNED"},
    ),
}


def one_of_each() -> list[Envelope]:
    """One envelope of every event of an order, for per-type projection tests."""
    events: list[contract.Payload] = [
        order_placed(),
        contract.OrderCancelled(order_id=ORDER, customer_id=CUSTOMER, store_id=STORE),
        contract.OrderAccepted(order_id=ORDER, store_id=STORE),
        contract.OrderRejected(order_id=ORDER, store_id=STORE, reason="sold out"),
        contract.CookStarted(order_id=ORDER, store_id=STORE),
        contract.CookFinished(order_id=ORDER, store_id=STORE),
        contract.CookingCancelled(order_id=ORDER, store_id=STORE),
        contract.FoodPicked(order_id=ORDER, rider_id="r-1"),
        contract.DeliveryConfirmed(order_id=ORDER, rider_id="r-1"),
        contract.DeliveryCancelled(order_id=ORDER),
        contract.DeliveryReturned(order_id=ORDER, rider_id="r-1", reason="customer refused"),
    ]
    return [envelope(e, i) for i, e in enumerate(events)]
