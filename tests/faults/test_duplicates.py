"""Every message is delivered a second time: each consumer skips what it has applied
(docs/board.md, invariant 2: the inbox), so nothing anywhere changes.

The copies are published by a plain producer, byte for byte, to the partitions the
originals are on, as a producer retry or a relay that crashed before marking a row
published would. Only this test's own orders and menu items are replayed: the
broker is shared with the other fault tests, whose poison messages would only be
parked again.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from shared_events.topics import EVENT_TOPICS
from testkit import committed_offsets, end_offsets
from testkit.actors import wait_for
from testkit.checks import (
    check_topics,
    converge,
    fault_report,
    menu_change_applied,
    price_of,
    published,
    snapshot,
)
from testkit.load import Driver
from testkit.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

ORDERS = 20
GROUPS = ("order-service", "store-service", "delivery-service", "mypage-service")


async def test_every_message_delivered_twice_changes_nothing(http, system):
    world = World(http, system.endpoints)
    await world.open_stores(1)
    store = next(iter(world.owners))
    owner, dish = world.owners[store], world.items[store][0]
    plans = world.plan(ORDERS)
    await Driver(world, concurrency=10).run(plans)
    assert [p.error for p in plans if p.error] == []
    # A newer price, so replaying the older MenuItemChanged could only make it older.
    price = 9900
    stock = await owner.stock(store, dish)
    assert (await owner.set_menu_item(store, dish, dish, price, stock)).status_code == 200
    await menu_change_applied(system.bootstrap, store, dish, price)

    first = await converge(world, within=120)
    assert first.clean, first.row()["problems"]
    before = await snapshot(world)

    records = await published(world, system.bootstrap)
    keys = {p.order_id for p in world.orders} | {
        f"{s}/{item}" for s, items in world.items.items() for item in items
    }
    replayed = [r for r in records if r.key and r.key.decode() in keys]
    await republish(system.bootstrap, replayed)
    await every_group_read(system.bootstrap, await end_offsets(system.bootstrap, EVENT_TOPICS))

    after = await snapshot(world)
    verdict = await converge(world, within=30)
    changed = [key for key in before if before[key] != after.get(key)]
    verdict.expect(not changed, "duplicated", f"changed by the replay: {changed}")
    priced = await price_of(world, store, dish)
    verdict.expect(priced == price, "duplicated", f"replica went back to {priced}")
    all_records = await published(world, system.bootstrap)
    copies = check_topics(world, all_records, verdict)["extra_copies"]
    fault_report(
        "duplicates",
        "every message of the orders and menus delivered twice",
        verdict,
        replayed_messages=len(replayed),
        copies_on_topics=copies,
    )
    assert copies == sum(1 for r in replayed if r.key.decode() in {p.order_id for p in plans})
    assert verdict.clean, verdict.row()["problems"]


async def republish(bootstrap: str, records: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(
                r.topic, r.value, key=r.key, partition=r.partition, headers=list(r.headers)
            )
    finally:
        await producer.stop()


async def every_group_read(bootstrap: str, ends: dict) -> None:
    """Wait until every consumer group has committed up to `ends` on what it reads."""
    for group in GROUPS:

        async def caught_up(group: str = group) -> bool:
            committed = await committed_offsets(bootstrap, group)
            read = {tp.topic for tp in committed}  # the topics the group consumes
            return all(committed.get(tp, 0) >= end for tp, end in ends.items() if tp.topic in read)

        await wait_for(caught_up, within=120, interval=0.2, what=f"{group} to read the copies")
