"""Envelopes of an order's events as the Delivery context receives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared_events import contract
from shared_events.envelope import Envelope, wrap

ORDER = "o-1"
CUSTOMER = "c-1"
STORE = "s-1"
REGION = "gangnam"
ADDRESS = "12 Teheran-ro"
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope(event: contract.Payload, minutes: int = 0) -> Envelope:
    """A real envelope, its occurred_at set explicitly (causal order is up to the caller)."""
    return wrap(event, producer="test", occurred_at=at(minutes))


def order_placed(
    order_id: str = ORDER, region: str = REGION, address: str = ADDRESS
) -> contract.OrderPlaced:
    return contract.OrderPlaced(
        order_id=order_id,
        customer_id=CUSTOMER,
        store_id=STORE,
        items=[
            contract.OrderLine(
                menu_item_id="m1", name="Bibimbap", unit_price=9000, quantity=2, line_total=18000
            )
        ],
        total_amount=18000,
        delivery_address=contract.DeliveryAddress(line=address, region=region),
        phone="010-1234-5678",
    )


def cook_started(order_id: str = ORDER) -> contract.CookStarted:
    return contract.CookStarted(order_id=order_id, store_id=STORE)


def order_cancelled(order_id: str = ORDER) -> contract.OrderCancelled:
    return contract.OrderCancelled(order_id=order_id, customer_id=CUSTOMER, store_id=STORE)
