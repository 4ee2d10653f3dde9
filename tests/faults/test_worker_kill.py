"""A worker is SIGKILLed while it has messages to process, then started again: what it
had applied but not yet acknowledged comes again and is skipped (the inbox), what it
had not applied is applied. Nothing lost, nothing doubled (invariants 1 and 2).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from shared_events.topics import DELIVERY_EVENTS, EVENT_TOPICS, ORDER_EVENTS, STORE_EVENTS
from testkit import lag
from testkit.actors import wait_for
from testkit.checks import check_topics, converge, fault_report, published
from testkit.load import Driver
from testkit.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

# Enough orders that traffic still flows when the last worker's turn comes: with
# batched consumers the system may otherwise finish them all before it is busy.
KILL_ORDERS = int(os.environ.get("FAULTS_KILL_ORDERS", "80"))
# Each worker's consumer group and what it reads (the board's policies table).
SUBSCRIPTIONS = {
    "order-service": [STORE_EVENTS],
    "store-service": [ORDER_EVENTS, DELIVERY_EVENTS],
    "delivery-service": [ORDER_EVENTS, STORE_EVENTS],
    "mypage-service": list(EVENT_TOPICS),
}


@pytest.mark.timeout(600)
async def test_each_worker_killed_mid_stream_loses_nothing_and_doubles_nothing(
    http, system, faults
):
    world = World(http, system.endpoints)
    await world.open_stores(1)
    plans = world.plan(KILL_ORDERS)
    driver = Driver(world, concurrency=10, step_timeout=240)
    kills: list[dict] = []
    skipped_before = redeliveries_skipped(system)

    async def kill_every_worker() -> None:
        for n, (service, topics) in enumerate(SUBSCRIPTIONS.items()):
            await wait_for(
                lambda n=n: _true(driver.placed >= (n + 1) * KILL_ORDERS // 6),
                within=300,
                what="orders under way",
            )

            async def behind(service=service, topics=topics) -> int:
                return await lag(system.bootstrap, service, topics)

            # Mid-stream: the worker has messages it has not acknowledged yet.
            behind_by = await wait_for(behind, within=60, interval=0.02, what=f"{service} busy")
            faults.kill_worker(service)
            faults.restart_worker(service)
            kills.append({"worker": service, "unacknowledged": behind_by, "placed": driver.placed})

    await asyncio.gather(driver.run(plans), kill_every_worker())
    system.check_alive()
    failed = [f"{p.scenario.name} {p.order_id}: {p.error}" for p in plans if p.error]

    verdict = await converge(world, within=180)
    records = await published(world, system.bootstrap)
    copies = check_topics(world, records, verdict)["extra_copies"]
    fault_report(
        "worker_kill",
        "each worker SIGKILLed mid-stream and restarted",
        verdict,
        kills=kills,
        # What the restarted workers got again and skipped: the kill did land between
        # a handler's commit and the offset's.
        redeliveries_skipped=redeliveries_skipped(system) - skipped_before,
        failed_orders=failed,
        extra_event_copies_on_topics=copies,
    )
    assert len(kills) == len(SUBSCRIPTIONS)
    assert failed == []
    assert verdict.clean, verdict.row()["problems"]


async def _true(value: bool) -> bool:
    return value


def redeliveries_skipped(system) -> int:
    """How many messages the workers found in their inbox already, by their logs
    (reported only: the log line is the worker's, not a contract)."""
    return sum(
        path.read_text(errors="replace").count("-> duplicate")
        for path in system.log_dir.glob("*-worker.log")
    )
