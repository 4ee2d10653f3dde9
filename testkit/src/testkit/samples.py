"""Sample events for tests: valid by the contract, with made-up personal data."""

from __future__ import annotations

import uuid

from shared_events.contract import DeliveryAddress, OrderLine, OrderPlaced


def order_placed() -> OrderPlaced:
    return OrderPlaced(
        order_id=str(uuid.uuid4()),
        customer_id="c1",
        store_id="s1",
        items=[
            OrderLine(
                menu_item_id="m1", name="Bibimbap", unit_price=9000, quantity=2, line_total=18000
            )
        ],
        total_amount=18000,
        delivery_address=DeliveryAddress(line="12 Teheran-ro", region="gangnam"),
        phone="010-1234-5678",
    )
