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
