"""The real FastAPI app over a real database (SQLite file and PostgreSQL), its lifespan
running (migrations, outbox relay). The broker address has no broker behind it: the
relay keeps retrying in the background and every event stays in the outbox; the
policies are driven through the message bus directly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import inspect, select

from delivery_service.bootstrap import Container, bootstrap
from delivery_service.entrypoints.api import create_app
from delivery_service.views import DeliveryDetail, DeliveryView, Offers
from service_kit.tables import outbox
from shared_events.contract import Payload
from shared_events.envelope import Envelope, decode
from shared_events.topics import DELIVERY_EVENTS
from testkit import tokens

from ..events import ADDRESS, REGION, STORE, envelope, order_placed
from ..events import cook_started as cook_started_event
from ..events import order_cancelled as order_cancelled_event

ORDER = "7d0c2a4e-9f53-4c7e-9a8e-0f4f7f1b2c11"
RIDER, OTHER = "rider-1", "rider-2"
# Every route needs a rider: reads go as one of the region who picked nothing.
VIEWER = tokens.rider("viewing-rider", REGION)


@dataclass
class Service:
    http: httpx.AsyncClient
    container: Container

    async def receive(self, *envelopes: Envelope) -> None:
        for env in envelopes:
            assert await self.container.bus.handle_event(env, env.event())

    async def open(self, order_id: str = ORDER, minutes: int = 0, region: str = REGION) -> None:
        """The order's OrderPlaced and CookStarted, as the worker would apply them."""
        await self.receive(
            envelope(order_placed(order_id, region=region), minutes),
            envelope(cook_started_event(order_id), minutes + 1),
        )

    async def put(self, order_id: str, action: str, rider: str, **kw: Any) -> httpx.Response:
        return await self.http.put(
            f"/deliveries/{order_id}/{action}", headers=tokens.rider(rider), **kw
        )

    async def offers(self, **params: str) -> httpx.Response:
        return await self.http.get(
            "/deliveries", params={"region": REGION, **params}, headers=VIEWER
        )

    async def published(self) -> list[tuple[str, str, Payload]]:
        async with self.container.platform.sessions() as session:
            rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        return [(row.topic, row.message_key, decode(row.message)[1]) for row in rows]


@pytest.fixture
async def service(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("WORKER_HEALTH_URL", "http://127.0.0.1:1/health/ready")  # no worker
    container = bootstrap()
    app = create_app(container, resource_server=tokens.resource_server())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://delivery") as http:
            yield Service(http, container)


def answers(view: type[BaseModel], body: dict[str, Any]) -> bool:
    """Whether `body` is `view`'s shape exactly: the routes answer unvalidated (http.Shaped)."""
    return view.model_validate(body).model_dump(mode="json", exclude_unset=True) == body


def shape(body: dict[str, Any]) -> dict[str, Any]:
    """The body without its changing timestamp (checked to be ISO-8601 UTC)."""
    assert datetime.fromisoformat(body["updated_at"]).utcoffset().total_seconds() == 0
    return {k: v for k, v in body.items() if k != "updated_at"}


async def test_the_app_starts_migrated_with_its_ports_and_health(service):
    container = service.container
    assert (container.settings.http_port, container.settings.worker_web_port) == (8083, 6083)
    async with container.platform.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"deliveries", "outbox", "inbox", "alembic_version"} <= tables
    assert (await service.http.get("/health/live")).status_code == 200
    ready = await service.http.get("/health/ready")
    assert ready.status_code == 503  # no broker in this test
    assert ready.json()["checks"] == {"database": True, "broker": False, "consumer": False}


async def test_order_placed_and_cook_started_offer_the_delivery_in_its_region(service):
    await service.open()

    r = await service.offers()
    assert r.status_code == 200
    assert answers(Offers, r.json())
    [offer] = r.json()["deliveries"]
    assert shape(offer) == {
        "order_id": ORDER,
        "status": "WAITING",
        "region": REGION,
        "store_id": STORE,
    }  # the region, never the street address
    assert (
        await service.http.get("/deliveries", params={"region": "mapo"}, headers=VIEWER)
    ).json() == {"deliveries": []}
    assert (await service.offers(status="PICKED")).json() == {"deliveries": []}


async def test_offers_default_to_the_region_in_the_riders_token(service):
    await service.open("o-here")
    await service.open("o-mapo", region="mapo")

    here = await service.http.get("/deliveries", headers=tokens.rider(RIDER, REGION))
    there = await service.http.get("/deliveries", headers=tokens.rider(RIDER, "mapo"))

    assert [d["order_id"] for d in here.json()["deliveries"]] == ["o-here"]
    assert [d["order_id"] for d in there.json()["deliveries"]] == ["o-mapo"]


async def test_offers_are_listed_oldest_first(service):
    await service.open("o-late", minutes=30)
    await service.open("o-early", minutes=0)
    await service.open("o-middle", minutes=10)
    await service.open("o-elsewhere", minutes=5, region="mapo")

    body = (await service.offers()).json()
    assert [d["order_id"] for d in body["deliveries"]] == ["o-early", "o-middle", "o-late"]


async def test_the_list_needs_a_region_and_a_listed_status(service):
    nowhere = tokens.bearer("r-nowhere", "rider")  # a token without a region to default to
    assert (await service.http.get("/deliveries", headers=nowhere)).status_code == 422
    for status in ("PENDING", "waiting", "LOST"):
        r = await service.offers(status=status)
        assert r.status_code == 422, status
        assert r.json()["detail"][0]["loc"] == ["query", "status"]


async def test_an_order_not_offered_yet_is_not_found_anywhere(service):
    await service.receive(envelope(order_placed(ORDER), 0))  # no CookStarted yet

    assert (await service.offers()).json() == {"deliveries": []}
    assert (await service.http.get(f"/deliveries/{ORDER}", headers=VIEWER)).status_code == 404
    r = await service.put(ORDER, "pick", RIDER)
    assert r.status_code == 404
    assert r.json() == {"detail": f"delivery {ORDER} not found"}
    assert (await service.put("unknown", "confirm", RIDER)).status_code == 404


async def test_two_riders_race_and_exactly_one_picks(service):
    await service.open()

    first, second = await asyncio.gather(
        service.put(ORDER, "pick", RIDER), service.put(ORDER, "pick", OTHER)
    )

    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    assert loser.json()["current_state"] == "PICKED"
    assert shape(winner.json())["status"] == "PICKED"
    picks = [e for _, _, e in await service.published() if e.event_type == "FoodPicked"]
    assert len(picks) == 1 and picks[0].rider_id == winner.json()["rider_id"]
    assert (await service.offers()).json() == {"deliveries": []}


async def test_the_picking_rider_confirms_and_returns_with_every_event_in_the_outbox(service):
    await service.open()
    assert (await service.put(ORDER, "confirm", RIDER)).json()["current_state"] == "WAITING"

    picked = await service.put(ORDER, "pick", RIDER)
    assert picked.status_code == 200
    assert shape(picked.json()) == {
        "order_id": ORDER,
        "status": "PICKED",
        "region": REGION,
        "store_id": STORE,
        "rider_id": RIDER,
    }

    wrong = await service.put(ORDER, "confirm", OTHER)
    assert wrong.status_code == 403
    assert wrong.json() == {"detail": f"delivery {ORDER} was picked by another rider"}

    confirmed = await service.put(ORDER, "confirm", RIDER)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "DELIVERED"
    again = await service.put(ORDER, "confirm", RIDER)
    assert (again.status_code, again.json()["current_state"]) == (409, "DELIVERED")

    assert (await service.put(ORDER, "return", RIDER, json={})).status_code == 422
    blank = await service.put(ORDER, "return", RIDER, json={"reason": "  "})
    assert (blank.status_code, blank.json()["detail"][0]["loc"]) == (422, ["body", "reason"])
    other = await service.put(ORDER, "return", OTHER, json={"reason": "customer refused"})
    assert other.status_code == 403

    returned = await service.put(ORDER, "return", RIDER, json={"reason": "customer refused"})
    assert returned.status_code == 200
    assert shape(returned.json())["status"] == "RETURNED"
    assert all(answers(DeliveryView, r.json()) for r in (picked, confirmed, returned))

    assert await service.published() == [
        (DELIVERY_EVENTS, ORDER, e)
        for e in [
            decode_payload("FoodPicked", order_id=ORDER, rider_id=RIDER),
            decode_payload("DeliveryConfirmed", order_id=ORDER, rider_id=RIDER),
            decode_payload(
                "DeliveryReturned", order_id=ORDER, rider_id=RIDER, reason="customer refused"
            ),
        ]
    ]


def decode_payload(event_type: str, **fields: str) -> Payload:
    from shared_events.registry import model_for

    return model_for(event_type, 1)(**fields)


async def test_only_the_rider_who_picked_sees_the_address(service):
    await service.open()
    url = f"/deliveries/{ORDER}"

    assert "address_line" not in (await service.http.get(url, headers=VIEWER)).json()
    await service.put(ORDER, "pick", RIDER)

    own = await service.http.get(url, headers=tokens.rider(RIDER))
    assert own.status_code == 200
    assert shape(own.json()) == {
        "order_id": ORDER,
        "status": "PICKED",
        "region": REGION,
        "store_id": STORE,
        "rider_id": RIDER,
        "address_line": ADDRESS,
    }
    for headers in (VIEWER, tokens.rider(OTHER)):
        body = (await service.http.get(url, headers=headers)).json()
        assert "address_line" not in body and body["status"] == "PICKED"
        assert answers(DeliveryDetail, body)
    assert answers(DeliveryDetail, own.json())


async def test_cancelled_before_cook_start_is_never_offered(service):
    await service.receive(
        envelope(order_placed(ORDER), 0),
        envelope(order_cancelled_event(ORDER), 1),
        envelope(cook_started_event(ORDER), 2),  # crossed the cancellation
    )

    assert (await service.offers()).json() == {"deliveries": []}
    assert (await service.http.get(f"/deliveries/{ORDER}", headers=VIEWER)).json()[
        "status"
    ] == "CANCELLED"
    pick = await service.put(ORDER, "pick", RIDER)
    assert (pick.status_code, pick.json()["current_state"]) == (409, "CANCELLED")
    assert [(t, k, e.event_type) for t, k, e in await service.published()] == [
        (DELIVERY_EVENTS, ORDER, "DeliveryCancelled")
    ]


async def test_a_cancellation_after_the_pick_cancels_the_delivery(service):
    await service.open()
    assert (await service.put(ORDER, "pick", RIDER)).status_code == 200

    await service.receive(envelope(order_cancelled_event(ORDER), 5))

    confirm = await service.put(ORDER, "confirm", RIDER)
    assert (confirm.status_code, confirm.json()["current_state"]) == (409, "CANCELLED")
    assert [e.event_type for _, _, e in await service.published()] == [
        "FoodPicked",
        "DeliveryCancelled",
    ]


async def test_a_command_needs_a_rider(service):
    await service.open()
    assert (await service.http.put(f"/deliveries/{ORDER}/pick")).status_code == 401
    bad = await service.put("bad id!", "pick", RIDER)
    assert (bad.status_code, bad.json()["detail"][0]["loc"]) == (422, ["path", "order_id"])
