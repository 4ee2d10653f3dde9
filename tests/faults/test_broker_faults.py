"""The broker goes away: commands on local state keep succeeding, and when it comes
back every event they committed is published once, in commit order, and applied.

Invariants 1 (nothing lost: the transactional outbox), 2 (nothing doubled) and
3 (order per order), against the real broker and the real service processes.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from shared_events import decode
from shared_events.topics import STORE_EVENTS
from testkit.checks import (
    Verdict,
    check_topics,
    converge,
    fault_report,
    menu_change_applied,
    price_of,
    published,
)
from testkit.load import Driver, broker_outage
from testkit.world import Scenario, World

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

# The load test's size: CI keeps the default; a longer run sets FAULTS_LOAD_ORDERS.
LOAD_ORDERS = int(os.environ.get("FAULTS_LOAD_ORDERS", "200"))

# Orders the test takes only part of the way (states the board allows to rest in).
PLACED = Scenario("placed", (), "PLACED", "CHARGED", "RECEIVED", None, ())
ACCEPTED = Scenario(
    "accepted", ("accept",), "ACCEPTED", "CHARGED", "ACCEPTED", None, ("OrderAccepted",)
)
COOKING = Scenario(
    "cooking",
    ("accept", "cook"),
    "COOKING",
    "CHARGED",
    "COOKING",
    "WAITING",
    ("OrderAccepted", "CookStarted"),
)


def assert_clean(verdict: Verdict) -> None:
    assert verdict.clean, verdict.row()["problems"]


async def test_commands_on_local_state_succeed_while_the_broker_is_down(http, system, faults):
    world = World(http, system.endpoints)
    await world.open_stores(1)
    store = next(iter(world.owners))
    owner, side_dish = world.owners[store], world.items[store][1]
    driver = Driver(world, step_timeout=60)

    # Before the outage: three tickets in the owner's inbox, one order accepted,
    # and one cooking whose delivery riders are offered.
    to_accept, to_reject, to_cancel, to_cook, to_deliver = world.plan(
        5, (ACCEPTED, "rejected", "cancelled-placed", COOKING, "delivered")
    )
    await asyncio.gather(
        *(driver.drive(p, ()) for p in (to_accept, to_reject, to_cancel)),
        driver.drive(to_cook, ("accept",)),
        driver.drive(to_deliver, ("accept", "cook")),
    )
    for p in (to_accept, to_reject, to_cancel):
        await driver.wait_until_ready(p, "accept")
    await driver.wait_until_ready(to_deliver, "pick")
    placed_down = world.plan(4, (PLACED, PLACED, PLACED, "cancelled-placed"))
    assert [p.error for p in world.plans if p.error] == []

    faults.stop_broker()
    before = driver.commands
    # Each of these is decided on state its own service holds: none needs the broker.
    await driver.drive(to_accept, ("accept",), watch=False)
    await driver.drive(to_reject, ("reject",), watch=False)
    await driver.drive(to_cancel, ("cancel",), watch=False)  # order-service
    await driver.drive(to_cook, ("cook",), watch=False)
    await driver.drive(to_deliver, ("finish", "pick", "confirm"), watch=False)
    for p in placed_down:
        await driver.drive(p, watch=False)  # POST /orders 201 (and one DELETE)
    new_price = 7700
    r = await owner.set_menu_item(store, side_dish, side_dish, new_price, world.stock)
    assert r.status_code == 200, r.text
    assert [p.error for p in world.plans if p.error] == []
    while_down = driver.commands - before + 1
    faults.start_broker()

    verdict = await converge(world, within=120)
    records = await published(world, system.bootstrap)
    copies = check_topics(world, records, verdict)["extra_copies"]
    verdict.expect(copies == 0, "duplicated", f"{copies} event ids published twice")
    check_menu_in_commit_order(records, f"{store}/{side_dish}", new_price, verdict)
    await menu_change_applied(system.bootstrap, store, side_dish, new_price)
    priced = await price_of(world, store, side_dish)  # so the replica knows the new price
    verdict.expect(priced == new_price, "lost", f"replica prices {priced}, not {new_price}")
    fault_report(
        "broker_down_at_commit",
        "broker stopped; commands committed meanwhile",
        verdict,
        commands_while_down=while_down,
    )
    assert_clean(verdict)


@pytest.mark.timeout(600)
async def test_every_order_ends_once_everywhere_across_a_broker_restart_under_load(
    http, system, faults
):
    world = World(http, system.endpoints)
    await world.open_stores(max(1, LOAD_ORDERS // 50))
    plans = world.plan(LOAD_ORDERS)
    driver = Driver(world, concurrency=20, step_timeout=180)

    _, outage = await asyncio.gather(
        driver.run(plans),
        broker_outage(
            driver, faults.stop_broker, faults.start_broker, after_placed=LOAD_ORDERS // 3
        ),
    )
    system.check_alive()
    failed = [f"{p.scenario.name} {p.order_id}: {p.error}" for p in plans if p.error]

    verdict = await converge(world, within=180)
    records = await published(world, system.bootstrap)
    copies = check_topics(world, records, verdict)["extra_copies"]
    fault_report(
        "broker_restart_under_load",
        "broker stopped and started under load",
        verdict,
        failed_orders=failed,
        outage=vars(outage),
        extra_event_copies_on_topics=copies,
    )
    assert failed == []
    assert outage.commands_while_down > 0  # the outage did cross the orders' lifecycle
    assert_clean(verdict)


def check_menu_in_commit_order(records: list, key: str, price: int, verdict: Verdict) -> None:
    """One item's MenuItemChanged events: revisions rising in offset order, the last
    one carrying the price set while the broker was down."""
    changes = [
        decode(r.value)[1]
        for r in sorted(records, key=lambda r: (r.partition, r.offset))
        if r.topic == STORE_EVENTS and r.key and r.key.decode() == key
    ]
    revisions = [c.revision for c in changes]
    verdict.expect(
        revisions == sorted(set(revisions)), "other", f"{key} revisions in order: {revisions}"
    )
    verdict.expect(
        bool(changes) and changes[-1].price == price, "lost", f"{key}: last change {changes[-1:]}"
    )
