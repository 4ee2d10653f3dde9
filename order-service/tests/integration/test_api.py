"""The real FastAPI app over a real database (SQLite file and PostgreSQL), its lifespan
running (migrations, outbox relay, refund dispatcher). The broker address has no broker
behind it: the relay keeps retrying in the background and every event stays in the outbox."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from order_service.adapters.orm import orders, payments
from order_service.views import OrderView
from service_kit.tables import outbox
from shared_events.envelope import decode
from testkit import tokens

from .support import CUSTOMER, body


async def test_placing_an_order_answers_201_with_its_location_and_writes_the_outbox(service):
    await service.stock("m1", name="Bibimbap", price=9000)
    await service.stock("m2", name="Barley tea", price=1500)

    response = await service.http.post(
        "/orders",
        json=body(
            items=[{"menu_item_id": "m1", "quantity": 2}, {"menu_item_id": "m2", "quantity": 1}]
        ),
        headers=CUSTOMER,
    )

    assert response.status_code == 201, response.text
    order = response.json()
    order_id = order.pop("order_id")
    assert uuid.UUID(order_id).version == 4
    assert response.headers["location"] == f"/orders/{order_id}"
    assert order.pop("placed_at").endswith("+00:00")
    assert order == {
        "customer_id": "c1",
        "store_id": "s1",
        "status": "PLACED",
        "total_amount": 19500,
        "items": [
            {
                "menu_item_id": "m1",
                "name": "Bibimbap",
                "unit_price": 9000,
                "quantity": 2,
                "line_total": 18000,
            },
            {
                "menu_item_id": "m2",
                "name": "Barley tea",
                "unit_price": 1500,
                "quantity": 1,
                "line_total": 1500,
            },
        ],
        "delivery_address": {"line": "12 Teheran-ro", "region": "gangnam"},
        "phone": "010-1234-5678",  # normalised
        "payment": {"status": "CHARGED", "amount": 19500},
    }
    placed = [row for row in await service.outbox() if row.event_type == "OrderPlaced"]
    assert [(row.message_key, row.published_at) for row in placed] == [(order_id, None)]
    envelope, event = decode(placed[0].message)
    assert envelope.producer == "order-service"
    assert (event.order_id, event.total_amount, event.phone) == (order_id, 19500, "010-1234-5678")
    assert await service.count(payments) == 1


async def test_the_customer_reads_their_order_back(service):
    await service.stock()
    created = await service.http.post("/orders", json=body(), headers=CUSTOMER)

    response = await service.http.get(created.headers["location"], headers=CUSTOMER)

    assert response.status_code == 200
    assert response.json() == created.json()
    # POST answers from what it committed, GET from a read: the same bytes.
    assert response.content == created.content
    # Both answer the view unvalidated (http.Shaped, JSONResponse): it is OrderView's shape.
    assert OrderView.model_validate(response.json()).model_dump(mode="json") == response.json()


async def test_another_customer_may_not_read_the_order(service):
    await service.stock()
    created = await service.http.post("/orders", json=body(), headers=CUSTOMER)

    response = await service.http.get(created.headers["location"], headers=tokens.customer("c2"))

    assert response.status_code == 403
    assert "another customer" in response.json()["detail"]


async def test_an_unknown_order_is_404(service):
    response = await service.http.get(f"/orders/{uuid.uuid4()}", headers=CUSTOMER)

    assert response.status_code == 404


async def test_the_actor_is_required(service):
    assert (await service.http.post("/orders", json=body())).status_code == 401


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"items": []}, ["body", "items"]),
        ({"items": [{"menu_item_id": "m1", "quantity": 0}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"menu_item_id": "m1", "quantity": 101}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"menu_item_id": "m1", "quantity": "2"}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"menu_item_id": "m1", "quantity": True}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"menu_item_id": "m1", "quantity": 1.5}]}, ["body", "items", 0, "quantity"]),
        (
            {
                "items": [
                    {"menu_item_id": "m1", "quantity": 1},
                    {"menu_item_id": "m1", "quantity": 1},
                ]
            },
            ["body", "items"],
        ),
        (
            {"items": [{"menu_item_id": "m1", "quantity": 1, "price": 1}]},
            ["body", "items", 0, "price"],
        ),
        (
            {"delivery_address": {"line": "  ", "region": "gangnam"}},
            ["body", "delivery_address", "line"],
        ),
        (
            {"delivery_address": {"line": "12 Teheran-ro", "region": ""}},
            ["body", "delivery_address", "region"],
        ),
        ({"phone": "02-123-4567"}, ["body", "phone"]),
        ({"phone": "010-1234-56789"}, ["body", "phone"]),
        ({"payment": {"card_token": ""}}, ["body", "payment", "card_token"]),
        ({"store_id": ""}, ["body", "store_id"]),
    ],
)
async def test_invalid_input_is_422_naming_the_field(service, changes, loc):
    await service.stock()

    response = await service.http.post("/orders", json=body(**changes), headers=CUSTOMER)

    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["detail"]]
    assert await service.count(orders) == 0


@pytest.mark.parametrize(
    "menu",
    [
        None,  # never heard of
        {"available": False, "stock": 0},
        {"stock": 1},  # two are asked for
    ],
)
async def test_an_unknown_or_unavailable_item_is_422_naming_it(service, menu):
    await service.stock("m1")
    if menu is not None:
        await service.stock("m2", **menu)
    items = [{"menu_item_id": "m1", "quantity": 1}, {"menu_item_id": "m2", "quantity": 2}]

    response = await service.http.post("/orders", json=body(items=items), headers=CUSTOMER)

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "items", "1", "menu_item_id"]
    assert "m2" in error["msg"]
    assert await service.count(orders) == 0


async def test_a_declined_card_is_402_and_leaves_nothing_behind(service):
    await service.stock()

    response = await service.http.post(
        "/orders", json=body(payment={"card_token": "tok_declined"}), headers=CUSTOMER
    )

    assert response.status_code == 402
    assert "declined" in response.json()["detail"]
    assert await service.count(orders) == 0
    assert await service.count(payments) == 0
    assert await service.count(outbox) == 0


async def test_an_idempotent_replay_returns_the_same_order_and_publishes_nothing_new(service):
    await service.stock()
    headers = {**CUSTOMER, "Idempotency-Key": "key-1"}

    first = await service.http.post("/orders", json=body(), headers=headers)
    replay = await service.http.post("/orders", json=body(), headers=headers)

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json()
    assert replay.headers["location"] == first.headers["location"]
    assert await service.count(orders) == 1
    assert len(await service.outbox()) == 1
    assert len(service.gateway.charges) == 1


async def test_a_key_reused_with_another_body_is_422(service):
    await service.stock()
    headers = {**CUSTOMER, "Idempotency-Key": "key-1"}
    await service.http.post("/orders", json=body(), headers=headers)

    other = body(items=[{"menu_item_id": "m1", "quantity": 3}])
    response = await service.http.post("/orders", json=other, headers=headers)

    assert response.status_code == 422
    [error] = response.json()["detail"]  # one 422 shape: a list of field errors
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "Idempotency-Key" in error["msg"]
    assert await service.count(orders) == 1


async def test_two_concurrent_requests_with_one_key_make_one_order(service):
    await service.stock()
    service.gateway.parties = 2  # both are charged before either commits
    headers = {**CUSTOMER, "Idempotency-Key": "key-1"}

    responses = await asyncio.gather(
        service.http.post("/orders", json=body(), headers=headers),
        service.http.post("/orders", json=body(), headers=headers),
    )

    assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
    assert responses[0].json() == responses[1].json()
    assert await service.count(orders) == 1
    assert len(await service.outbox()) == 1
    assert len(service.gateway.refunded) == 1  # the loser's charge was given back


async def test_health(service):
    assert (await service.http.get("/health/live")).json() == {"status": "ok"}
