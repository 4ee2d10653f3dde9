"""Health and graceful stop, on real processes.

Readiness follows the broker and names the worker's partitions; SIGTERM to an API
loses no staged event; SIGTERM to a worker while messages flow applies each once.

The module runs a system of its own (broker TEST_KAFKA_PORT + 400, ports moved by
E2E_PORT_OFFSET + 400), since the package's `system` may be up beside it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from shared_events.topics import STORE_EVENTS
from testkit import (
    E2E_PORT_OFFSET,
    TEST_KAFKA_PORT,
    KafkaBroker,
    eventually,
    fresh_broker,
    read_topic,
)
from testkit import envelopes as decode_all
from testkit.actors import Customer, StoreOwner
from testkit.launcher import SERVICES, System

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

PORT_OFFSET = E2E_PORT_OFFSET + 400
EXIT_DEADLINE = 60  # seconds a SIGTERMed process may take; generous, never a timing claim


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaBroker]:
    yield from fresh_broker(TEST_KAFKA_PORT + 400)


@pytest.fixture(scope="module")
def system(kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("health-system"), kafka.bootstrap, PORT_OFFSET)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def intact(kafka: KafkaBroker, system: System) -> Iterator[System]:
    """The system, put back after the test: the broker up, every process running."""
    try:
        yield system
    finally:
        kafka.start()  # a running broker is left alone
        for spec in SERVICES:
            for role in ("api", "worker"):
                proc = system.processes.get(f"{spec.name}-{role}")
                if proc is None or proc.poll() is not None:
                    system.processes.pop(f"{spec.name}-{role}", None)
                    system.start_process(spec, role)
        system.wait_ready()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def worker_url(system: System, service: str) -> str:
    return f"http://127.0.0.1:{system.spec(service).worker_web_port + PORT_OFFSET}"


async def readiness(http: httpx.AsyncClient, url: str) -> tuple[int, dict]:
    try:
        r = await http.get(f"{url}/health/ready")
    except httpx.HTTPError:
        return 0, {}
    return r.status_code, r.json()


def sigterm(system: System, name: str) -> int:
    """SIGTERM one process and wait for it; returns its exit code."""
    return exit_code(system.processes.pop(name), signal.SIGTERM)


def exit_code(proc: subprocess.Popen[bytes], sig: int | None = None) -> int:
    """Signal `proc` (when `sig` is given) and wait for its exit within the deadline;
    one that outlives it is killed, and the test fails."""
    if sig is not None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=EXIT_DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running {EXIT_DEADLINE}s after SIGTERM") from None


# ------------------------------------------------------------------------ health


async def test_ready_follows_the_broker_and_the_worker_names_its_partitions(intact, kafka, http):
    system = intact
    all_true = {"database": True, "broker": True, "consumer": True}
    for spec in SERVICES:
        assert (await http.get(f"{system.url(spec.name)}/health/live")).json() == {"status": "ok"}
        assert await readiness(http, system.url(spec.name)) == (
            200,
            {"status": "ok", "checks": all_true},
        )
        status, worker = await readiness(http, worker_url(system, spec.name))
        assert (status, worker["checks"], worker["held"]) == (200, all_true, {})
        # One worker per group owns every partition of what it subscribes to.
        assert worker["partitions"] and all(p == [0, 1, 2] for p in worker["partitions"].values())
        live = await http.get(f"{worker_url(system, spec.name)}/health/live")
        assert live.json() == {"status": "ok"}
    _, mypage = await readiness(http, worker_url(system, "mypage-service"))
    assert set(mypage["partitions"]) == {
        "fooddelivery.order.events",
        "fooddelivery.store.events",
        "fooddelivery.delivery.events",
    }  # the read side hears every order event

    kafka.stop()
    try:
        for spec in SERVICES:
            url = system.url(spec.name)
            _, body = await eventually(
                answers(http, url, 503), within=60, what=f"{spec.name} not ready"
            )
            assert body["status"] == "unavailable"
            assert body["checks"]["broker"] is False and body["checks"]["database"] is True
            status, worker = await readiness(http, worker_url(system, spec.name))
            assert status == 503 and worker["checks"]["broker"] is False
    finally:
        kafka.start()

    for spec in SERVICES:
        url = system.url(spec.name)
        _, body = await eventually(answers(http, url, 200), within=120, what=f"{spec.name} ready")
        assert body["checks"] == all_true
        _, worker = await eventually(
            answers(http, worker_url(system, spec.name), 200), within=60, what="its worker"
        )
        assert worker["partitions"] and worker["checks"] == all_true


def answers(http: httpx.AsyncClient, url: str, status: int):
    """A probe: the readiness (status, body) once it answers `status`."""

    async def probe() -> tuple[int, dict] | None:
        found = await readiness(http, url)
        return found if found[0] == status else None

    return probe


async def test_an_api_without_its_worker_is_not_ready(intact, http):
    system = intact
    assert sigterm(system, "delivery-service-worker") == 0
    status, body = await readiness(http, system.url("delivery-service"))
    assert (status, body["checks"]) == (503, {"database": True, "broker": True, "consumer": False})

    system.start_worker("delivery-service", wait=True)
    assert (await readiness(http, system.url("delivery-service")))[0] == 200


# ------------------------------------------------------------------ graceful stop


def outbox_rows(db: Path, store_id: str) -> dict[str, tuple[str, bool]]:
    """event_id -> (menu item, published) for the store's MenuItemChanged outbox rows."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT event_id, message, published_at FROM outbox WHERE event_type = ?",
            ("MenuItemChanged",),
        ).fetchall()
    found = {}
    for event_id, message, published in rows:
        payload = json.loads(message)["payload"]
        if payload["store_id"] == store_id:
            found[event_id] = (payload["menu_item_id"], published is not None)
    return found


async def published_ids(system: System, store_id: str, expected: int) -> list[str]:
    """The event ids of the store's menu events on the topic, once `expected` are."""

    def ours(records: list) -> list[str]:
        return [
            str(e.event_id)
            for e in decode_all(records)
            if e.aggregate_id.startswith(f"{store_id}/")
        ]

    records = await read_topic(
        system.bootstrap, [STORE_EVENTS], until=lambda r: len(ours(r)) >= expected
    )
    return ours(records)


async def test_sigterm_to_an_api_loses_no_staged_event(intact, http):
    system = intact
    tag = uuid.uuid4().hex[:8]
    store, owner = f"store-{tag}", StoreOwner(http, system.endpoints, f"owner-{tag}")
    assert (await owner.register_store(store, "Hansik House", "gangnam")).status_code == 200
    answered = asyncio.Event()
    done: list[int] = []

    async def change(i: int) -> tuple[str, int]:
        r = await owner.set_menu_item(store, f"item-{i}", f"Dish {i}", 1000 + i, 10)
        done.append(r.status_code)
        if len(done) >= 10:
            answered.set()
        return f"item-{i}", r.status_code

    # Commands keep coming while the API is told to stop: some staged, some in flight.
    changes = [asyncio.create_task(change(i)) for i in range(40)]
    await asyncio.wait_for(answered.wait(), timeout=60)
    proc = system.processes.pop("store-service-api")
    proc.send_signal(signal.SIGTERM)
    results = await asyncio.gather(*changes, return_exceptions=True)
    assert await asyncio.to_thread(exit_code, proc) == 0

    # A command either failed to connect (refused once the stop began) or was served.
    answers = [r for r in results if not isinstance(r, BaseException)]
    assert len(answers) >= 10 and all(status == 200 for _, status in answers)
    db = system.data_dir / "db" / "store-service.db"
    rows = outbox_rows(db, store)
    assert {item for item, _ in answers} <= {item for item, _ in rows.values()}  # all staged
    sent = [event_id for event_id, (_, published) in rows.items() if published]
    on_topic = await published_ids(system, store, len(sent))
    assert set(sent) <= set(on_topic)  # what is marked published is on the topic ...
    assert set(on_topic) <= set(rows)  # ... and nothing reached the topic unstaged

    system.start_process(system.spec("store-service"), "api")
    system.wait_ready(services=["store-service"])

    async def all_published():
        return all(published for _, published in outbox_rows(db, store).values())

    await eventually(all_published, within=60, what="the relay to drain after the restart")
    on_topic = await published_ids(system, store, len(rows))
    assert sorted(on_topic) == sorted(rows)  # each staged event published, once


async def test_sigterm_to_a_worker_while_messages_flow_applies_each_once(intact, http):
    system = intact
    tag = uuid.uuid4().hex[:8]
    store, item = f"store-{tag}", f"item-{tag}"
    owner = StoreOwner(http, system.endpoints, f"owner-{tag}")
    customer = Customer(http, system.endpoints, f"customer-{tag}")
    assert (await owner.register_store(store, "Hansik House", "gangnam")).status_code == 200
    assert (await owner.set_menu_item(store, item, "Bibimbap", 9000, 10_000)).status_code == 200

    async def place() -> str:
        async def priced():  # the menu replica fills from MenuItemChanged
            r = await customer.place_order(store, [(item, 1)])
            return r if r.status_code != 422 else None

        r = await eventually(priced, within=60, what="the order-service to price the order")
        assert r.status_code == 201, r.text
        return r.json()["order_id"]

    orders = [await place() for _ in range(10)]  # before
    during: list[str] = []

    async def keep_placing() -> None:
        for _ in range(30):
            during.append(await place())

    flowing = asyncio.create_task(keep_placing())  # during: SIGTERM lands mid-stream

    async def flowing_for_a_while():
        return len(during) >= 10

    await eventually(flowing_for_a_while, within=120, what="orders flowing")
    proc = system.processes.pop("mypage-service-worker")
    assert await asyncio.to_thread(exit_code, proc, signal.SIGTERM) == 0
    await flowing
    orders += during
    orders += [await place() for _ in range(10)]  # after, while the worker is down

    system.start_worker("mypage-service", wait=True)

    async def all_shown():
        r = await customer.orders(limit=100)
        shown = [o["order_id"] for o in r.json()["orders"]]
        return shown if len(shown) >= len(orders) else None

    shown = await eventually(all_shown, within=120, what="mypage to show every order")
    assert sorted(shown) == sorted(orders)
    for order_id in orders:
        page = await customer.status_page(order_id)
        assert [(t["status"], t["event_type"]) for t in page["timeline"]] == [
            ("PLACED", "OrderPlaced")
        ]
    notified = [(n["order_id"], n["status"]) for n in await customer.notifications()]
    assert sorted(notified) == sorted((o, "PLACED") for o in orders)  # one message each
