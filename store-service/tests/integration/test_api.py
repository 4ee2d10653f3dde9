"""The real FastAPI app over a real database (SQLite file and PostgreSQL), its lifespan
running (migrations, outbox relay). The broker address has no broker behind it: the
relay keeps retrying in the background and every event stays in the outbox. Consumed
events are driven through the message bus, as the worker would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from service_kit.tables import outbox
from shared_events.contract import Payload
from shared_events.envelope import decode
from store_service.bootstrap import Container, bootstrap
from store_service.entrypoints.api import create_app
from store_service.views import InboxView, TicketView
from testkit import tokens

from ..events import (
    OWNER,
    STORE,
    at,
    delivery_confirmed,
    delivery_returned,
    envelope,
    order_cancelled,
    order_placed,
)

ORDER = "0b6f4a8e-0d5e-4d7b-9a53-2f1f0c1e0001"
AS_OWNER = tokens.owner(OWNER)
AS_STRANGER = tokens.owner("owner2")


class Clock:
    """The service's clock, moved by the test: the tickets' events happen at T0."""

    def __init__(self) -> None:
        self.now = at(0)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    http: httpx.AsyncClient
    container: Container
    clock: Clock

    async def consume(self, event: Payload, minutes: int = 0) -> bool:
        env = envelope(event, minutes)
        return await self.container.bus.handle_event(env, env.event())

    async def outbox(self, *event_types: str) -> list[Any]:
        async with self.container.platform.sessions() as session:
            rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        return [r for r in rows if not event_types or r.event_type in event_types]

    async def stock(self, item_id: str = "m1") -> int:
        menu = (await self.http.get(f"/stores/{STORE}/menu")).json()
        return next(i["stock"] for i in menu["items"] if i["item_id"] == item_id)

    async def put(self, order_id: str, step: str, body: Any = None, as_: Any = None):
        return await self.http.put(
            f"/store-orders/{order_id}/{step}", json=body, headers=as_ or AS_OWNER
        )


@pytest.fixture
async def service(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    clock = Clock()
    container = bootstrap(clock=clock)
    app = create_app(container, resource_server=tokens.resource_server())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://store-service"
        ) as http,
    ):
        service = Service(http, container, clock)
        for store, owner in ((STORE, OWNER), ("s2", "owner2")):
            response = await http.put(
                f"/stores/{store}",
                json={"name": "Hansik", "region": "gangnam"},
                headers=tokens.owner(owner),
            )
            assert response.status_code == 200, response.text
        response = await http.put(
            f"/stores/{STORE}/menu/m1",
            json={"name": "Bibimbap", "price": 9000, "stock": 50},
            headers=AS_OWNER,
        )
        assert response.status_code == 200, response.text
        yield service


async def test_the_owner_accepts_cooks_and_finishes_and_each_event_is_in_the_outbox(service):
    await service.consume(order_placed(ORDER), minutes=0)

    accepted = await service.put(ORDER, "acceptance", {"accepted": True})
    started = await service.put(ORDER, "cooking-start")
    finished = await service.put(ORDER, "cooking-finish")

    assert [r.status_code for r in (accepted, started, finished)] == [200, 200, 200]
    # Answered unvalidated (http.Shaped): each is TicketView's shape.
    for answer in (accepted, started, finished):
        assert TicketView.model_validate(answer.json()).model_dump(mode="json") == answer.json()
    ticket = accepted.json()
    assert ticket.pop("updated_at").endswith("+00:00")
    assert ticket == {
        "order_id": ORDER,
        "store_id": STORE,
        "status": "ACCEPTED",
        "reason": None,
        "accept_by": None,
        "items": [{"menu_item_id": "m1", "name": "dish m1", "quantity": 2}],
        "total_amount": 18000,
    }
    assert (started.json()["status"], finished.json()["status"]) == ("COOKING", "COOKED")
    rows = await service.outbox("OrderAccepted", "CookStarted", "CookFinished")
    assert [(r.event_type, r.message_key, r.topic) for r in rows] == [
        ("OrderAccepted", ORDER, "fooddelivery.store.events"),
        ("CookStarted", ORDER, "fooddelivery.store.events"),
        ("CookFinished", ORDER, "fooddelivery.store.events"),
    ]
    for row in rows:
        env, event = decode(row.message)
        assert (env.producer, event.order_id, event.store_id) == ("store-service", ORDER, STORE)


async def test_the_owner_rejects_with_a_reason(service):
    await service.consume(order_placed(ORDER))

    response = await service.put(ORDER, "acceptance", {"accepted": False, "reason": " sold out "})

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["reason"]) == ("REJECTED", "sold out")
    [row] = await service.outbox("OrderRejected")
    assert decode(row.message)[1].reason == "sold out"


@pytest.mark.parametrize(
    "body",
    [{"accepted": False}, {"accepted": False, "reason": ""}, {"accepted": False, "reason": "  "}],
)
async def test_rejecting_without_a_reason_is_422_on_the_reason(service, body):
    await service.consume(order_placed(ORDER))

    response = await service.put(ORDER, "acceptance", body)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "reason"]]
    assert await service.outbox("OrderRejected") == []
    inbox = (await service.http.get(f"/stores/{STORE}/orders", headers=AS_OWNER)).json()
    assert inbox["orders"][0]["status"] == "RECEIVED"


@pytest.mark.parametrize("body", [None, {}, {"accepted": "yes"}, {"accepted": True, "x": 1}])
async def test_a_malformed_acceptance_is_422(service, body):
    await service.consume(order_placed(ORDER))

    assert (await service.put(ORDER, "acceptance", body)).status_code == 422


async def test_another_owner_is_forbidden(service):
    await service.consume(order_placed(ORDER))

    for step, body in (("acceptance", {"accepted": True}), ("cooking-start", None)):
        response = await service.put(ORDER, step, body, as_=AS_STRANGER)
        assert response.status_code == 403, response.text
    inbox = await service.http.get(f"/stores/{STORE}/orders", headers=AS_STRANGER)
    assert inbox.status_code == 403
    assert await service.outbox("OrderAccepted", "CookStarted") == []


async def test_a_step_from_the_wrong_state_is_409_naming_the_current_state(service):
    await service.consume(order_placed(ORDER))

    early = await service.put(ORDER, "cooking-finish")
    await service.put(ORDER, "acceptance", {"accepted": True})
    again = await service.put(ORDER, "acceptance", {"accepted": False, "reason": "too late"})

    assert early.status_code == 409
    assert early.json()["current_state"] == "RECEIVED"
    assert (again.status_code, again.json()["current_state"]) == (409, "ACCEPTED")
    assert "ACCEPTED" in again.json()["detail"]


async def test_an_unknown_ticket_and_one_whose_order_was_not_placed_yet_are_404(service):
    await service.consume(delivery_confirmed(ORDER))  # a placeholder ticket

    unknown = await service.put("nope", "cooking-start")
    not_yet = await service.put(ORDER, "acceptance", {"accepted": True})

    assert (unknown.status_code, not_yet.status_code) == (404, 404)
    inbox = (await service.http.get(f"/stores/{STORE}/orders", headers=AS_OWNER)).json()
    assert inbox["orders"] == []


async def test_the_inbox_filters_by_status_newest_first(service):
    for n in range(3):
        await service.consume(order_placed(f"o-{n}"), minutes=n)
    await service.consume(order_placed("o-other", store_id="s2"), minutes=9)
    await service.consume(delivery_confirmed("o-placeholder"), minutes=9)
    await service.put("o-1", "acceptance", {"accepted": True})

    everything = await service.http.get(f"/stores/{STORE}/orders", headers=AS_OWNER)
    received = await service.http.get(
        f"/stores/{STORE}/orders", params={"status": "RECEIVED"}, headers=AS_OWNER
    )

    assert everything.status_code == received.status_code == 200
    assert [(o["order_id"], o["status"]) for o in everything.json()["orders"]] == [
        ("o-2", "RECEIVED"),
        ("o-1", "ACCEPTED"),
        ("o-0", "RECEIVED"),
    ]
    assert received.json()["store_id"] == STORE
    assert [o["order_id"] for o in received.json()["orders"]] == ["o-2", "o-0"]
    assert received.json()["orders"][0]["updated_at"] == at(2).isoformat()


async def test_the_inbox_refuses_an_unknown_status_and_an_unknown_store(service):
    bad = await service.http.get(
        f"/stores/{STORE}/orders", params={"status": "EATEN"}, headers=AS_OWNER
    )
    unknown = await service.http.get("/stores/nope/orders", headers=AS_OWNER)

    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]
    assert unknown.status_code == 404


async def test_a_confirmed_delivery_takes_stock_and_the_menu_shows_it(service):
    await service.consume(order_placed(ORDER), minutes=0)

    assert await service.consume(delivery_confirmed(ORDER), minutes=5)

    assert await service.stock() == 48
    menu = (await service.http.get(f"/stores/{STORE}/menu")).json()
    assert menu["items"][0]["available"] is True
    row = (await service.outbox("MenuItemChanged"))[-1]
    _, event = decode(row.message)
    assert (row.message_key, event.stock, event.revision) == (f"{STORE}/m1", 48, 2)

    await service.consume(delivery_returned(ORDER), minutes=6)
    assert await service.stock() == 50
    assert [decode(r.message)[1].stock for r in await service.outbox("MenuItemChanged")] == [
        50,
        48,
        50,
    ]


async def test_a_delivery_confirmed_before_order_placed_takes_stock_when_it_comes(service):
    await service.consume(delivery_confirmed(ORDER), minutes=5)
    assert await service.stock() == 50

    await service.consume(order_placed(ORDER), minutes=0)

    assert await service.stock() == 48


async def test_a_cancelled_order_publishes_cooking_cancelled_once_and_stays_cancelled(service):
    await service.consume(order_placed(ORDER), minutes=0)
    await service.put(ORDER, "acceptance", {"accepted": True})

    await service.consume(order_cancelled(ORDER), minutes=1)
    await service.consume(order_cancelled(ORDER), minutes=2)  # a replay under a new id
    await service.consume(delivery_confirmed(ORDER), minutes=3)  # crossed the cancel

    [row] = await service.outbox("CookingCancelled")
    assert row.message_key == ORDER
    assert await service.stock() == 50
    refused = await service.put(ORDER, "cooking-start")
    assert (refused.status_code, refused.json()["current_state"]) == (409, "CANCELLED")


async def test_racing_acceptances_make_one_decision_and_the_losers_are_told_it(service):
    await service.consume(order_placed(ORDER))

    responses = await asyncio.gather(
        *(
            service.put(ORDER, "acceptance", {"accepted": True})
            if i % 2
            else service.put(ORDER, "acceptance", {"accepted": False, "reason": "closing"})
            for i in range(8)
        )
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    winner = next(r.json()["status"] for r in responses if r.status_code == 200)
    # A loser of the version check is decided again: its 409 names the winner's state.
    assert {r.json().get("current_state") for r in responses if r.status_code == 409} == {winner}
    assert len(await service.outbox("OrderAccepted", "OrderRejected")) == 1


# ---------------------------------------------------------------- the acceptance window


async def test_the_inbox_shows_until_when_each_received_ticket_may_be_decided(service):
    await service.consume(order_placed("o-waiting"), minutes=1)
    await service.consume(order_placed("o-decided"), minutes=2)
    await service.put("o-decided", "acceptance", {"accepted": True})

    inbox = (await service.http.get(f"/stores/{STORE}/orders", headers=AS_OWNER)).json()

    assert {o["order_id"]: o["accept_by"] for o in inbox["orders"]} == {
        "o-waiting": (at(1) + timedelta(seconds=300)).isoformat(),
        "o-decided": None,
    }
    # Answered unvalidated (http.Shaped): it is InboxView's shape.
    assert InboxView.model_validate(inbox).model_dump(mode="json") == inbox


async def test_a_ticket_left_alone_is_rejected_by_the_timer_once_with_its_event(service):
    await service.consume(order_placed(ORDER), minutes=0)
    service.clock.now = at(5)  # the default window, 300 s, has ended

    await service.container.timer.work_off()  # beside the running timer: one of them fires
    await service.container.timer.work_off()

    [row] = await service.outbox("OrderRejected")
    event = decode(row.message)[1]
    assert (event.reason, event.rejected_by) == ("not accepted in time", "timeout")
    inbox = (await service.http.get(f"/stores/{STORE}/orders", headers=AS_OWNER)).json()
    assert [(o["status"], o["accept_by"]) for o in inbox["orders"]] == [("REJECTED", None)]
    late = await service.put(ORDER, "acceptance", {"accepted": True})
    assert (late.status_code, late.json()["current_state"]) == (409, "REJECTED")


async def test_an_owner_racing_the_deadline_either_wins_or_is_told_it_lost(service):
    for n in range(10):
        order_id = f"race-{n}"
        await service.consume(order_placed(order_id), minutes=n)
        service.clock.now = at(n + 5)

        accepted, _ = await asyncio.gather(
            service.put(order_id, "acceptance", {"accepted": True}),
            service.container.timer.work_off(),
        )

        decisions = [
            decode(r.message)[1]
            for r in await service.outbox("OrderAccepted", "OrderRejected")
            if r.message_key == order_id
        ]
        if accepted.status_code == 200:
            assert [type(e).__name__ for e in decisions] == ["OrderAccepted"]
        else:
            assert (accepted.status_code, accepted.json()["current_state"]) == (409, "REJECTED")
            assert [(type(e).__name__, e.rejected_by) for e in decisions] == [
                ("OrderRejected", "timeout")
            ]


async def test_the_stores_of_a_region_are_listed_without_a_token(service):
    await service.http.put(
        "/stores/s3", json={"name": "Bunsik", "region": "mapo"}, headers=tokens.owner("owner3")
    )

    listed = await service.http.get("/stores", params={"region": "gangnam"})

    assert listed.status_code == 200
    assert listed.json() == {
        "region": "gangnam",
        "stores": [{"store_id": STORE, "name": "Hansik"}, {"store_id": "s2", "name": "Hansik"}],
    }
    assert (await service.http.get("/stores")).status_code == 422  # the region is required
