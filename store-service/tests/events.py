"""Envelopes of one order's events as the kitchen receives them, at chosen moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared_events import contract
from shared_events.envelope import Envelope, wrap

ORDER = "o-1"
CUSTOMER = "c-1"
STORE = "s1"
OWNER = "owner1"
RIDER = "r-1"
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)  # the acceptance window the tests' tickets get


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope(event: contract.Payload, minutes: int = 0) -> Envelope:
    return wrap(event, producer="test", occurred_at=at(minutes))


def order_placed(
    order_id: str = ORDER, store_id: str = STORE, lines: tuple[tuple[str, int], ...] = (("m1", 2),)
) -> contract.OrderPlaced:
    items = [
        contract.OrderLine(
            menu_item_id=item_id,
            name=f"dish {item_id}",
            unit_price=9000,
            quantity=quantity,
            line_total=9000 * quantity,
        )
        for item_id, quantity in lines
    ]
    return contract.OrderPlaced(
        order_id=order_id,
        customer_id=CUSTOMER,
        store_id=store_id,
        items=items,
        total_amount=sum(i.line_total for i in items),
        delivery_address=contract.DeliveryAddress(line="12 Teheran-ro", region="gangnam"),
        phone="010-1234-5678",
    )


def order_cancelled(order_id: str = ORDER, store_id: str = STORE) -> contract.OrderCancelled:
    return contract.OrderCancelled(order_id=order_id, customer_id=CUSTOMER, store_id=store_id)


def delivery_confirmed(order_id: str = ORDER) -> contract.DeliveryConfirmed:
    return contract.DeliveryConfirmed(order_id=order_id, rider_id=RIDER)


def delivery_returned(order_id: str = ORDER) -> contract.DeliveryReturned:
    return contract.DeliveryReturned(order_id=order_id, rider_id=RIDER, reason="customer refused")
