"""A priced order travels from the store's menu through Kafka to the customer's mypage."""

import json
import re
import uuid

import pytest

from shared_events import decode
from shared_events.contract import OrderPlaced
from shared_events.topics import ORDER_EVENTS
from testkit import eventually, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def set_up_menu(http, system, ids, people, price=9000, stock=50):
    store = system.url("store-service")
    owner = await people["owner"].auth_headers()
    r = await http.put(
        f"{store}/stores/{ids['store']}",
        headers=owner,
        json={"name": "Hansik House", "region": "gangnam"},
    )
    assert r.status_code == 200, r.text
    r = await http.put(
        f"{store}/stores/{ids['store']}/menu/{ids['item']}",
        headers=owner,
        json={"name": "Bibimbap", "price": price, "stock": stock},
    )
    assert r.status_code == 200, r.text


def order_body(ids, quantity=2, token="tok_ok"):
    return {
        "store_id": ids["store"],
        "items": [{"menu_item_id": ids["item"], "quantity": quantity}],
        "delivery_address": {"line": "12 Teheran-ro", "region": "gangnam"},
        "phone": "010-1234-5678",
        "payment": {"card_token": token},
    }


async def place_order(http, system, ids, people, **kwargs):
    """The replica fills asynchronously from MenuItemChanged: retry the 422 until it has."""
    orders = system.url("order-service")

    async def attempt():
        r = await http.post(
            f"{orders}/orders",
            json=order_body(ids, **kwargs),
            headers=await people["customer"].auth_headers(),
        )
        return r if r.status_code != 422 else None

    return await eventually(attempt, within=60, what="the menu replica to price the order")


async def test_a_priced_order_reaches_mypage(http, system, ids, people):
    await set_up_menu(http, system, ids, people)

    placed = await place_order(http, system, ids, people)

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "PLACED" and order["total_amount"] == 18000
    assert placed.headers["location"] == f"/orders/{order['order_id']}"

    mypage = system.url("mypage-service")

    async def shown():
        r = await people["customer"].request("GET", f"{mypage}/mypage/orders/{order['order_id']}")
        return r.json() if r.status_code == 200 else None

    view = await eventually(shown, within=60, what="mypage to show the order")
    assert view["status"] == "PLACED"
    assert view["total_amount"] == 18000
    assert view["customer_id"] == ids["customer"] and view["store_id"] == ids["store"]
    assert [(t["status"], t["event_type"]) for t in view["timeline"]] == [("PLACED", "OrderPlaced")]

    r = await people["customer"].request(
        "GET", f"{mypage}/mypage/customers/{ids['customer']}/orders"
    )
    assert [o["order_id"] for o in r.json()["orders"]] == [order["order_id"]]


async def test_the_raw_order_placed_message_honours_the_contract(http, system, ids, people):
    await set_up_menu(http, system, ids, people, price=7000)
    order = (await place_order(http, system, ids, people, quantity=3)).json()

    [record] = await read_topic(
        system.bootstrap, [ORDER_EVENTS], keys={order["order_id"]}, until=lambda r: len(r) >= 1
    )

    raw = json.loads(record.value)
    assert set(raw) == {
        "event_id",
        "event_type",
        "event_version",
        "occurred_at",
        "producer",
        "aggregate_id",
        "correlation_id",
        "causation_id",
        "payload",
    }
    envelope, event = decode(record.value)
    uuid.UUID(str(envelope.event_id))
    assert (envelope.event_type, envelope.event_version) == ("OrderPlaced", 1)
    assert envelope.producer == "order-service"
    assert envelope.aggregate_id == order["order_id"] == record.key.decode()
    assert envelope.occurred_at.utcoffset().total_seconds() == 0
    headers = dict(record.headers)
    # Tracing is on in these systems (conftest.py): the relay adds the order's W3C traceparent.
    assert re.fullmatch(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", headers.pop("traceparent"))
    assert headers == {"event_type": b"OrderPlaced", "event_version": b"1"}
    assert isinstance(event, OrderPlaced)
    assert event.customer_id == ids["customer"] and event.store_id == ids["store"]
    assert [(i.menu_item_id, i.unit_price, i.quantity, i.line_total) for i in event.items] == [
        (ids["item"], 7000, 3, 21000)
    ]
    assert event.total_amount == 21000
    assert event.delivery_address.region == "gangnam" and event.phone == "010-1234-5678"


async def test_a_declined_card_stores_and_publishes_nothing(http, system, ids, people):
    await set_up_menu(http, system, ids, people)
    declined = await place_order(http, system, ids, people, token="tok_declined")
    assert declined.status_code == 402, declined.text
    # Nothing stored: the order-service knows no order for this customer's key ...
    again = await http.post(
        f"{system.url('order-service')}/orders",
        json=order_body(ids),
        headers=await people["customer"].auth_headers(),
    )
    assert again.status_code == 201
    # ... and nothing published: mypage only ever sees the paid order.
    mypage = f"{system.url('mypage-service')}/mypage/customers/{ids['customer']}/orders"

    async def listed():
        orders = (await people["customer"].request("GET", mypage)).json()["orders"]
        return orders if orders else None

    orders = await eventually(listed, within=60, what="the paid order on mypage")
    assert [o["order_id"] for o in orders] == [again.json()["order_id"]]
