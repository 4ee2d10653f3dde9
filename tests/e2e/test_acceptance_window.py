"""The acceptance window on the real processes: an order its store leaves alone is
rejected by timeout, refunded and announced once; an owner accepting right at the
deadline either wins or is told the window did, never both, never neither.

The services run with a 2 s window (ACCEPTANCE_WINDOW_S, read by the store-service),
so this module starts a system of its own, on its own broker and ports: beside the
package's e2e system and the fault tests' one, never sharing a consumer group.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import httpx
import pytest

from shared_events import topics
from testkit import E2E_PORT_OFFSET, TEST_KAFKA_PORT, KafkaBroker, envelopes, fresh_broker
from testkit import read_topic as read_records
from testkit.actors import Customer, StoreOwner, wait_for
from testkit.launcher import SERVICES, System

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

WINDOW_S = 2
RACES = 50
SPREAD = [step * 0.05 - 0.35 for step in range(10)]  # seconds around the deadline
REGION = "gangnam"


@pytest.fixture(scope="module")
def window_kafka() -> Iterator[KafkaBroker]:
    yield from fresh_broker(TEST_KAFKA_PORT + 300)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def timed_system(
    request: pytest.FixtureRequest, window_kafka: KafkaBroker, tmp_path_factory
) -> Iterator[System]:
    urls: dict[str, str] = {}
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres")
        urls = {s.name: postgres.reset(f"window_{s.package}") for s in SERVICES}
    running = System(
        tmp_path_factory.mktemp(f"window-{request.param}"),
        window_kafka.bootstrap,
        port_offset=E2E_PORT_OFFSET + 300,
        database_urls=urls,
        extra_env={"ACCEPTANCE_WINDOW_S": str(WINDOW_S)},  # only the store-service reads it
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(keepalive_expiry=1)) as http:
        yield http


class Shop:
    """One store with a dish that never runs out, its owner, and a customer per order."""

    def __init__(self, http: httpx.AsyncClient, system: System) -> None:
        tag = uuid.uuid4().hex[:8]
        self.http, self.system = http, system
        self.store, self.item = f"store-{tag}", f"dish-{tag}"
        self.owner = StoreOwner(http, system.endpoints, f"owner-{tag}")

    async def open(self) -> None:
        assert (await self.owner.register_store(self.store, "Slow Kitchen", REGION)).is_success
        r = await self.owner.set_menu_item(self.store, self.item, "Bibimbap", 9000, 1_000_000)
        assert r.status_code == 200, r.text

    def customer(self) -> Customer:
        return Customer(self.http, self.system.endpoints, f"customer-{uuid.uuid4().hex[:8]}")

    async def order(self, customer: Customer) -> str:
        async def priced():
            r = await customer.place_order(self.store, [(self.item, 1)])
            return r if r.status_code != 422 else None  # the menu replica not there yet

        placed = await wait_for(priced, within=60, what="the order-service's menu replica")
        assert placed.status_code == 201, placed.text
        return placed.json()["order_id"]

    async def ticket(self, order_id: str) -> dict | None:
        r = await self.owner.inbox(self.store)
        return next((o for o in r.json()["orders"] if o["order_id"] == order_id), None)


async def test_an_order_left_alone_is_rejected_by_timeout_refunded_and_announced_once(
    timed_system, client
):
    shop = Shop(client, timed_system)
    await shop.open()
    customer = shop.customer()

    order_id = await shop.order(customer)

    async def rejected_on_mypage():
        page = await customer.status_page(order_id)
        return page if page and page["status"] == "REJECTED" else None

    page = await wait_for(rejected_on_mypage, within=60, what="mypage REJECTED")
    assert page["rejected_by"] == "timeout"

    async def refunded():
        r = await customer.order(order_id)
        body = r.json()
        return body if body["payment"]["status"] == "REFUNDED" else None

    order = await wait_for(refunded, within=60, what="the payment REFUNDED")
    assert order["status"] == "REJECTED"
    ticket = await shop.ticket(order_id)
    assert ticket is not None
    assert (ticket["status"], ticket["reason"]) == ("REJECTED", "not accepted in time")

    async def rejection_announced():
        mine = [n for n in await customer.notifications() if n["order_id"] == order_id]
        return mine if any(n["status"] == "REJECTED" for n in mine) else None

    messages = await wait_for(rejection_announced, within=30, what="the rejection message")
    assert sorted(n["status"] for n in messages) == ["PLACED", "REJECTED"]
    [rejection] = [n for n in messages if n["status"] == "REJECTED"]
    assert "제시간에 주문을 수락하지 않아" in rejection["message"]

    late = await shop.owner.accept(order_id)
    assert (late.status_code, late.json()["current_state"]) == (409, "REJECTED")


async def test_an_owner_accepting_at_the_deadline_and_the_window_never_both_win(
    timed_system, client
):
    shop = Shop(client, timed_system)
    await shop.open()

    async def accept_at_the_deadline(n: int) -> tuple[str, httpx.Response]:
        order_id = await shop.order(shop.customer())
        ticket = await wait_for(
            lambda: shop.ticket(order_id), within=60, what="the ticket in the inbox"
        )
        if ticket["status"] == "RECEIVED":
            # Not a wait for a condition: the owner acts around the moment the window
            # ends, from 0.35 s before to 0.1 s after, so either side may win.
            moment = datetime.fromisoformat(ticket["accept_by"]).timestamp() + SPREAD[n % 10]
            await asyncio.sleep(max(0.0, moment - time.time()))
        return order_id, await shop.owner.accept(order_id)

    # Ten at a time, so each ticket reaches the inbox well within its 2 s window and
    # the owner really races the timer (a slow arrival would leave nothing to race).
    outcomes = []
    for first in range(0, RACES, 10):
        outcomes += await asyncio.gather(
            *(accept_at_the_deadline(n) for n in range(first, first + 10))
        )

    accepted = {order_id for order_id, r in outcomes if r.status_code == 200}
    refused = {order_id for order_id, r in outcomes if r.status_code == 409}
    assert len(accepted) + len(refused) == RACES, [r.text for _, r in outcomes]
    assert {r.json()["current_state"] for _, r in outcomes if r.status_code == 409} <= {"REJECTED"}

    # Every order got exactly one decision on the store's topic, the one the owner was told.
    ids = accepted | refused
    decisions = envelopes(
        await read_records(
            timed_system.bootstrap,
            [topics.STORE_EVENTS],
            keys=ids,
            until=lambda records: len({r.key for r in records}) == RACES,
            within=90,
        )
    )
    by_order: dict[str, list[str]] = {}
    for env in decisions:
        if env.event_type in ("OrderAccepted", "OrderRejected"):
            by_order.setdefault(env.aggregate_id, []).append(env.event_type)
    assert {o: kinds for o, kinds in by_order.items() if len(kinds) != 1} == {}
    assert {o for o, kinds in by_order.items() if kinds == ["OrderAccepted"]} == accepted
    assert {o for o, kinds in by_order.items() if kinds == ["OrderRejected"]} == refused
    print(f"\n{len(accepted)} accepted by the owner, {len(refused)} rejected by the window")
