"""Conflicting commands on one aggregate at the same moment: exactly one wins, the
others are refused with 409 naming the state the winner left, and the winner's
decision is the only one anywhere (one event on the topic, one state).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from shared_events import decode
from shared_events.topics import DELIVERY_EVENTS, ORDER_EVENTS, STORE_EVENTS
from testkit import read_to_end
from testkit.actors import Customer, Rider, wait_for
from testkit.checks import (
    Verdict,
    fault_report,
    menu_change_applied,
    price_of,
)
from testkit.load import Driver
from testkit.world import Plan, Scenario, World

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

N = 8  # requests racing for one aggregate
PLACED = Scenario("placed", (), "PLACED", "CHARGED", "RECEIVED", None, ())


@pytest.fixture
async def world(http, system) -> World:
    w = World(http, system.endpoints)
    await w.open_stores(1)
    return w


async def placed(world: World, driver: Driver, steps: tuple[str, ...] = ()) -> Plan:
    """An order taken through `steps`, with its ticket visible to the owner."""
    plan = world.plan(1, (PLACED,))[0]
    await driver.drive(plan, steps)
    assert plan.error is None, plan.error
    if not steps:
        await driver.wait_until_ready(plan, "accept")
    return plan


def one_winner(responses: list[httpx.Response]) -> httpx.Response:
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: N - 1}, [(r.status_code, r.text[:120]) for r in responses]
    return next(r for r in responses if r.status_code == 200)


async def events_of(system, topic: str, key: str) -> list[str]:
    """The event types published under `key` so far, in offset order."""
    records = await read_to_end(system.bootstrap, [topic])
    return [decode(r.value)[0].event_type for r in records if r.key and r.key.decode() == key]


def placed_by(records: list, customer_id: str) -> list[str]:
    """The order ids of the OrderPlaced events of one customer (skipping messages of
    other tests that are not events at all)."""
    found = []
    for r in records:
        try:
            envelope, event = decode(r.value)
        except Exception:
            continue
        if envelope.event_type == "OrderPlaced" and event.customer_id == customer_id:
            found.append(event.order_id)
    return found


async def test_owner_decisions_race_on_one_ticket(world, system):
    driver = Driver(world)
    plan = await placed(world, driver)
    owner = world.owners[plan.store]
    oid = plan.order_id

    decisions = await asyncio.gather(
        *(owner.accept(oid) if i % 2 else owner.reject(oid, f"no {i}") for i in range(N))
    )

    winner = one_winner(decisions).json()["status"]
    assert {r.json()["current_state"] for r in decisions if r.status_code == 409} == {winner}
    starts = await asyncio.gather(*(owner.start_cooking(oid) for _ in range(N)))
    if winner == "ACCEPTED":
        assert one_winner(starts).json()["status"] == "COOKING"
        want = ["OrderAccepted", "CookStarted"]
    else:
        assert {r.status_code for r in starts} == {409}
        want = ["OrderRejected"]

    async def published():
        got = await events_of(system, STORE_EVENTS, oid)
        return got if len(got) >= len(want) else None

    assert await wait_for(published, what="the winner's events") == want
    report(world, "owner decisions", N * 2)


async def test_a_customer_cancels_one_order_many_times_at_once(world, system):
    driver = Driver(world)
    plan = await placed(world, driver)

    cancels = await asyncio.gather(*(plan.customer.cancel(plan.order_id) for _ in range(N)))

    one_winner(cancels)
    assert {r.json()["current_state"] for r in cancels if r.status_code == 409} == {"CANCELLED"}

    async def refunded():
        body = (await plan.customer.order(plan.order_id)).json()
        return body["payment"]["status"] == "REFUNDED"

    await wait_for(refunded, what="the refund")

    async def published():
        got = await events_of(system, ORDER_EVENTS, plan.order_id)
        return got if "OrderCancelled" in got else None

    assert await wait_for(published, what="OrderCancelled") == ["OrderPlaced", "OrderCancelled"]
    report(world, "cancels", N)


async def test_riders_race_for_one_delivery(world, system, http):
    driver = Driver(world)
    plan = await placed(world, driver, ("accept", "cook"))
    await driver.wait_until_ready(plan, "pick")
    riders = [Rider(http, world.at, f"racer-{world.tag}-{i}") for i in range(N)]
    for rider in riders:  # accounts first, so the picks race and not the sign-ups
        await rider.sign_up()

    picks = await asyncio.gather(*(r.pick(plan.order_id) for r in riders))

    winner = riders[picks.index(one_winner(picks))]
    assert {r.json()["current_state"] for r in picks if r.status_code == 409} == {"PICKED"}
    delivery = (await winner.delivery(plan.order_id)).json()
    assert (delivery["status"], delivery["rider_id"]) == ("PICKED", winner.id)
    # Only the winner may confirm; all of them try at once.
    confirms = await asyncio.gather(*(r.confirm(plan.order_id) for r in riders))
    assert Counter(r.status_code for r in confirms) == {200: 1, 403: N - 1}
    assert confirms[riders.index(winner)].status_code == 200

    async def published():
        got = await events_of(system, DELIVERY_EVENTS, plan.order_id)
        return got if len(got) >= 2 else None

    assert await wait_for(published, what="the delivery events") == [
        "FoodPicked",
        "DeliveryConfirmed",
    ]
    report(world, "picks and confirms", N * 2)


async def test_one_idempotency_key_sent_many_times_at_once_places_one_order(world, system):
    store = next(iter(world.owners))
    dish = world.items[store][0]
    customer = Customer(world.http, world.at, f"eager-{world.tag}")
    await customer.sign_up()
    await menu_change_applied(system.bootstrap, store, dish, 9000)

    posts = await asyncio.gather(
        *(customer.place_order(store, [(dish, 1)], idempotency_key="tap-tap") for _ in range(N))
    )

    codes = Counter(r.status_code for r in posts)
    assert codes == {201: 1, 200: N - 1}, [(r.status_code, r.text[:120]) for r in posts]
    assert len({r.json()["order_id"] for r in posts}) == 1
    oid = posts[0].json()["order_id"]

    async def shown():
        r = await customer.orders()
        return r.json()["orders"] or None

    assert [o["order_id"] for o in await wait_for(shown, what="mypage")] == [oid]
    records = await read_to_end(system.bootstrap, [ORDER_EVENTS])
    assert placed_by(records, customer.id) == [oid]
    report(world, "PlaceOrder with one Idempotency-Key", N)


async def test_menu_changes_racing_lose_no_revision(world, system):
    """PUT is last-writer-wins by design; what must hold is that each change is its
    own revision, so the order-service's replica (which keeps the newest revision)
    ends at exactly the price the store ended at, never at a lost one."""
    store = next(iter(world.owners))
    owner, dish = world.owners[store], world.items[store][1]
    prices = [5000 + 100 * i for i in range(N)]

    puts = await asyncio.gather(
        *(owner.set_menu_item(store, dish, dish, p, world.stock) for p in prices)
    )

    # A lost race may answer 409 (retry); none may answer anything else.
    assert {r.status_code for r in puts} <= {200, 409}, [r.text for r in puts]
    won = [r.json() for r in puts if r.status_code == 200]
    final = next(i for i in (await owner.menu(store))["items"] if i["item_id"] == dish)
    assert final["price"] in {w["price"] for w in won}
    revisions = [w["revision"] for w in won]
    assert len(set(revisions)) == len(revisions)  # no two writers took one revision
    assert max(revisions) == next(w["revision"] for w in won if w["price"] == final["price"])
    await menu_change_applied(system.bootstrap, store, dish, final["price"])
    assert await price_of(world, store, dish) == final["price"]
    report(world, "SetMenuItem", N)


def report(world: World, what: str, requests: int) -> None:
    verdict = Verdict(orders=len(world.orders))
    verdict.checks = requests
    fault_report(
        f"concurrent_{what.split()[0].lower()}",
        f"{requests} concurrent {what} on one aggregate",
        verdict,
    )
