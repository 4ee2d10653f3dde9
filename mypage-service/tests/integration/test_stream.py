"""The status page's stream: the current view at once, one event per change, a
resumable id, read from the database (so any replica serves it), pushed by the
worker's commits across processes (so a long safety poll never shows)."""

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
# A safety re-read far beyond any test's wait: only a wake can explain an event.
PUSHED = StreamSettings(poll_s=3600.0, max_s=7200.0, heartbeat_s=1.0)


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


@pytest.fixture
async def api_and_worker(
    monkeypatch: pytest.MonkeyPatch, database_url: str, unused_udp_port: int
) -> AsyncIterator[tuple[Container, Container]]:
    """The API process's container (its app running, so it listens for wakes) and a
    worker's: another container on the same database and settings, with no routes,
    so its commits reach the API only through service_kit.wake."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HTTP_PORT", str(unused_udp_port))  # where the worker's datagrams go
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("WORKER_HEALTH_URL", "http://127.0.0.1:1/health/ready")
    api = bootstrap()
    app = create_app(api, resource_server=tokens.resource_server())
    async with app.router.lifespan_context(app):
        worker = bootstrap()
        try:
            yield api, worker
        finally:
            await worker.platform.dispose()


async def test_the_stream_sends_the_view_now_then_each_change(service):
    container, _ = service
    await place(container, ORDER)
    events = order_events(container.platform.reads, container.streams, ORDER, None, QUICK)

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
    reads, hub = container.platform.reads, container.streams
    first = await next_event(order_events(reads, hub, ORDER, None, QUICK))

    # Nothing changed since that id: no event until the stream ends.
    short = StreamSettings(poll_s=0.05, max_s=0.3)
    assert [e async for e in order_events(reads, hub, ORDER, first.id, short)] == []

    accepted = happy_path()[1]
    assert await container.bus.handle_event(accepted, accepted.event())
    resumed = await next_event(order_events(reads, hub, ORDER, first.id, QUICK))
    assert json.loads(resumed.data)["status"] == "ACCEPTED"


async def test_a_change_the_worker_commits_is_pushed_to_the_open_stream(api_and_worker):
    api, worker = api_and_worker
    await place(worker, ORDER)
    events = order_events(api.platform.reads, api.streams, ORDER, None, PUSHED)
    first = await next_event(events)
    assert json.loads(first.data)["status"] == "PLACED"
    assert len(api.streams) == 1

    accepted = happy_path()[1]
    assert await worker.bus.handle_event(accepted, accepted.event())

    # Within seconds although the safety re-read is an hour away: the worker's wake.
    pushed = await next_event(events)
    assert json.loads(pushed.data)["status"] == "ACCEPTED"
    await events.aclose()
    assert len(api.streams) == 0  # the closed stream left the hub


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
