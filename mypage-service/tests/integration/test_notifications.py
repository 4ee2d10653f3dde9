"""Notifications end to end in one process: events through the bus, the dispatcher
in the API's lifespan, the customer's list over HTTP; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from mypage_service.adapters.notification_log import Outcome, SqlNotificationLog
from mypage_service.adapters.orm import notifications
from mypage_service.bootstrap import Container, bootstrap
from mypage_service.entrypoints.api import create_app
from mypage_service.service_layer.dispatcher import DispatchPolicy
from service_kit.testing import twice
from shared_events import contract
from shared_events.envelope import Envelope, utcnow
from testkit import eventually as _eventually
from testkit import tokens

from ..events import CUSTOMER, ORDER, envelope, happy_path, order_placed
from ..notifiers import FakeNotifier

FAST = DispatchPolicy(poll_interval=0.02, backoff_initial=0.02, backoff_max=0.1)
PHONE = "010-1234-5678"
URL = f"/mypage/customers/{CUSTOMER}/notifications"


class Service:
    def __init__(self, container: Container, client: httpx.AsyncClient, notifier: FakeNotifier):
        self.container = container
        self.client = client
        self.notifier = notifier

    async def handle(self, *envs: Envelope) -> None:
        for env in envs:
            await self.container.bus.handle_event(env, env.event())

    async def listed(self) -> list[dict[str, Any]]:
        response = await self.client.get(URL, headers=tokens.customer(CUSTOMER))
        assert response.status_code == 200
        return response.json()["notifications"]

    async def rows(self) -> list[Any]:
        async with self.container.platform.sessions() as session:
            return (
                await session.execute(select(notifications).order_by(notifications.c.created_at))
            ).all()


@pytest.fixture
async def service(monkeypatch: pytest.MonkeyPatch, database_url: str) -> AsyncIterator[Service]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    notifier = FakeNotifier()
    container = bootstrap(notifier=notifier, dispatch=FAST)
    app = create_app(container, resource_server=tokens.resource_server())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # Reads go as the orders' customer unless a test says who else (tokens needed).
        own = tokens.customer(CUSTOMER)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mypage", headers=own
        ) as client:
            yield Service(container, client, notifier)
    assert notifier.closed  # the dispatcher stopped with the app


async def eventually(probe: Callable[[], Awaitable[Any]], what: str) -> None:
    await _eventually(probe, within=10, interval=0.02, what=what)


async def test_the_happy_path_sends_six_messages_in_order(service):
    await service.handle(*twice(happy_path()))  # every event redelivered once

    async def all_sent() -> bool:
        listed = await service.listed()
        return len(listed) == 6 and all(n["state"] == "SENT" for n in listed)

    await eventually(all_sent, "six messages sent")
    listed = await service.listed()

    statuses = ["PLACED", "ACCEPTED", "COOKING", "COOKED", "PICKED", "DELIVERED"]
    assert [n["status"] for n in listed] == statuses
    assert [m.status for m in service.notifier.delivered] == statuses
    assert [m.notification_id for m in service.notifier.delivered] == [
        n["notification_id"] for n in listed
    ]
    assert {m.phone for m in service.notifier.delivered} == {PHONE}
    first = listed[0]
    assert set(first) == {
        "notification_id",
        "order_id",
        "status",
        "message",
        "state",
        "created_at",
        "sent_at",
    }
    assert (first["order_id"], first["message"]) == (ORDER, "[주문 o-1] 주문이 접수되었습니다.")
    assert [n["created_at"] for n in listed] == sorted(n["created_at"] for n in listed)
    assert all(n["sent_at"] >= n["created_at"] for n in listed)
    assert PHONE not in (await service.client.get(URL)).text
    assert [r.attempts for r in await service.rows()] == [1] * 6


async def test_a_down_notifier_leaves_messages_pending_until_it_recovers(service):
    service.notifier.down = True
    placed, accepted, *_ = happy_path()
    await service.handle(placed)

    async def tried_twice() -> bool:
        return service.notifier.tries >= 2

    await eventually(tried_twice, "two tries")
    # The status moves on while the gateway is down; nothing waits for it.
    await service.handle(accepted)
    page = await service.client.get(f"/mypage/orders/{ORDER}")
    assert (page.status_code, page.json()["status"]) == (200, "ACCEPTED")
    pending = await service.listed()
    assert [(n["status"], n["state"], n["sent_at"]) for n in pending] == [
        ("PLACED", "PENDING", None),
        ("ACCEPTED", "PENDING", None),
    ]
    assert (await service.rows())[0].last_error == "NotifierUnavailable: gateway answered 503"

    service.notifier.down = False

    async def all_sent() -> bool:
        return {n["state"] for n in await service.listed()} == {"SENT"}

    await eventually(all_sent, "the pending messages sent")
    assert [m.status for m in service.notifier.delivered] == ["PLACED", "ACCEPTED"]
    assert (await service.rows())[0].attempts >= 2


async def test_a_message_decided_before_order_placed_waits_for_the_phone(service):
    delivered = envelope(contract.DeliveryConfirmed(order_id=ORDER, rider_id="r-1"), 5)
    await service.handle(delivered)
    await asyncio.sleep(5 * FAST.poll_interval)

    assert service.notifier.tries == 0
    assert await service.listed() == []  # whose it is is not known yet
    [row] = await service.rows()
    assert (row.status, row.state, row.customer_id) == ("DELIVERED", "PENDING", None)

    await service.handle(envelope(order_placed(), 0))

    async def sent() -> bool:
        return [n["state"] for n in await service.listed()] == ["SENT"]

    await eventually(sent, "the DELIVERED message sent")
    assert [m.status for m in service.notifier.delivered] == ["DELIVERED"]


async def test_a_customer_sees_only_their_own_notifications(service):
    await service.handle(envelope(order_placed(), 0), envelope(order_placed("o-2", "c-2"), 1))

    others = await service.client.get(URL, headers=tokens.customer("c-2"))
    own = await service.client.get(URL, headers=tokens.customer(CUSTOMER))
    nobody = await service.client.get(
        "/mypage/customers/c-unknown/notifications", headers=tokens.customer("c-unknown")
    )
    bad = await service.client.get("/mypage/customers/not%20an%20id/notifications")

    assert others.status_code == 403
    assert others.json() == {"detail": "a customer sees only their own orders"}
    assert own.status_code == 200
    assert own.json()["customer_id"] == CUSTOMER
    assert [n["order_id"] for n in own.json()["notifications"]] == [ORDER]
    assert nobody.json() == {"customer_id": "c-unknown", "notifications": []}
    assert bad.status_code == 422


async def test_the_table_refuses_a_second_message_for_one_status(service):
    await service.handle(envelope(order_placed(), 0))
    [row] = await service.rows()
    duplicate = {**row._asdict(), "notification_id": "another-id"}

    with pytest.raises(IntegrityError):
        async with service.container.platform.sessions() as session, session.begin():
            await session.execute(insert(notifications).values(**duplicate))


async def test_a_claimed_message_is_nobody_elses_until_its_lease_runs_out(service):
    service.container.dispatcher.stop()  # this test plays the dispatchers itself
    await asyncio.sleep(3 * FAST.poll_interval)
    await service.handle(envelope(order_placed(), 0))
    log = SqlNotificationLog(service.container.platform.reads)
    now = utcnow()

    lease_until = now + timedelta(seconds=30)
    [due] = await log.due(now, 10)
    assert (due.status, due.phone, due.attempts) == ("PLACED", PHONE, 0)
    assert [d.notification_id for d in await log.claim_due(now, 10, lease_until)] == [
        due.notification_id
    ]
    assert await log.claim_due(now, 10, lease_until) == []
    assert await log.due(now, 10) == []

    later = now + timedelta(seconds=31)
    assert [d.attempts for d in await log.due(later, 10)] == [1]
    await log.finish(Outcome(lease_until, sent=[due.notification_id]), later)
    assert await log.due(later + timedelta(hours=1), 10) == []


async def test_a_message_the_worker_decides_goes_out_without_waiting_for_the_poll(
    monkeypatch: pytest.MonkeyPatch, database_url: str, unused_udp_port: int
):
    """The dispatcher's poll is a backstop an hour away here: only the wake of the
    worker's commit (another container on the same database, reaching the API's
    through service_kit.wake) explains a message sent within the test's wait."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HTTP_PORT", str(unused_udp_port))  # where the worker's datagrams go
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("WORKER_HEALTH_URL", "http://127.0.0.1:1/health/ready")
    notifier = FakeNotifier()
    api = bootstrap(notifier=notifier, dispatch=DispatchPolicy(poll_interval=3600.0))
    app = create_app(api, resource_server=tokens.resource_server())
    async with app.router.lifespan_context(app):
        worker = bootstrap(notifier=FakeNotifier())
        try:
            await asyncio.sleep(0)  # the dispatcher's first look (nothing due) is under way
            placed = happy_path()[0]
            assert await worker.bus.handle_event(placed, placed.event())

            async def sent() -> bool:
                return [m.status for m in notifier.delivered] == ["PLACED"]

            await eventually(sent, "the PLACED message sent")
        finally:
            await worker.platform.dispose()
