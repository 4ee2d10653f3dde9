"""The status page's stream: the current view at once, one event per change, a
resumable id, read from the database (so any replica serves it)."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from mypage_service.bootstrap import Container, bootstrap
from mypage_service.entrypoints.api import create_app
from mypage_service.entrypoints.stream import StreamSettings, order_events
from testkit import tokens

from ..events import CUSTOMER, ORDER, happy_path
from .test_api import place

QUICK = StreamSettings(poll_s=0.05, max_s=60.0, heartbeat_s=1.0)


@pytest.fixture
async def service(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """The real app, verifying tokens minted by testkit.tokens."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("WORKER_HEALTH_URL", "http://127.0.0.1:1/health/ready")  # no worker
    container = bootstrap()
    app = create_app(container, resource_server=tokens.resource_server())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mypage") as client:
            yield container, client


async def next_event(events, within: float = 20.0):
    return await asyncio.wait_for(anext(events), within)


async def test_the_stream_sends_the_view_now_then_each_change(service):
    container, _ = service
    await place(container, ORDER)
    events = order_events(container.platform.reads, ORDER, None, QUICK)

    first = await next_event(events)
    assert first.event == "order"
    assert json.loads(first.data)["status"] == "PLACED"

    accepted = happy_path()[1]
    assert await container.bus.handle_event(accepted, accepted.event())
    second = await next_event(events)

    view = json.loads(second.data)
    assert view["status"] == "ACCEPTED"
    assert [e["status"] for e in view["timeline"]] == ["PLACED", "ACCEPTED"]
    assert second.id != first.id
    await events.aclose()


async def test_a_reconnect_resumes_from_its_last_event_id(service):
    container, _ = service
    await place(container, ORDER)
    reads = container.platform.reads
    first = await next_event(order_events(reads, ORDER, None, QUICK))

    # Nothing changed since that id: no event until the stream ends.
    short = StreamSettings(poll_s=0.05, max_s=0.3)
    assert [e async for e in order_events(reads, ORDER, first.id, short)] == []

    accepted = happy_path()[1]
    assert await container.bus.handle_event(accepted, accepted.event())
    resumed = await next_event(order_events(reads, ORDER, first.id, QUICK))
    assert json.loads(resumed.data)["status"] == "ACCEPTED"


@pytest.mark.parametrize(
    ("headers", "order", "status"),
    [
        ({}, ORDER, 401),
        (tokens.customer("c-2"), ORDER, 403),
        (tokens.owner(CUSTOMER), ORDER, 403),
        (tokens.customer(CUSTOMER), "no-such-order", 404),
    ],
    ids=["no token", "another customer", "an owner", "unknown order"],
)
async def test_only_the_orders_customer_may_open_it(service, headers, order, status):
    container, client = service
    await place(container, ORDER)

    response = await client.get(f"/mypage/orders/{order}/stream", headers=headers)

    assert response.status_code == status
