"""A worker is SIGKILLed in the middle of a batch: the batch's transaction either
committed (its messages come again and the inbox skips them) or did not (they come
again and are applied). Nothing lost, nothing doubled (invariants 1 and 2).

mypage's worker reads every topic, so it is paused (SIGSTOP) while orders go through
their lifecycle: a backlog builds. Resumed, it takes that backlog in batches (of at
most 50 in the faults' system, see conftest); it is
killed as soon as its first batch is committed (its handled-events counter moved),
while the next ones are being applied and before its offsets are (they are committed
once a second, so the restarted worker gets the applied events again).
(Paused rather than killed: a stopped process keeps its port, which on a busy machine
another socket may take meanwhile.)
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared_events.topics import EVENT_TOPICS
from testkit import lag
from testkit.actors import wait_for
from testkit.checks import converge, fault_report
from testkit.load import Driver
from testkit.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

ORDERS = int(os.environ.get("FAULTS_BATCH_KILL_ORDERS", "30"))
WORKER = "mypage-service"
HANDLED = "fooddelivery_events_handled_total"


async def handled(http: httpx.AsyncClient, worker: str) -> float:
    """The events the worker has applied (or skipped as duplicates), all types."""
    r = await http.get(f"{worker}/metrics")
    r.raise_for_status()
    families = text_string_to_metric_families(r.text)
    return sum(s.value for f in families for s in f.samples if s.name == HANDLED)


@pytest.mark.timeout(600)
async def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(http, system, faults):
    world = World(http, system.endpoints)
    await world.open_stores(1)
    plans = world.plan(ORDERS)
    driver = Driver(world, concurrency=10, step_timeout=240)

    async def behind() -> int:
        return await lag(system.bootstrap, WORKER, list(EVENT_TOPICS))

    web = f"http://127.0.0.1:{system.spec(WORKER).worker_web_port + system.port_offset}"
    worker = system.processes[f"{WORKER}-worker"]
    before = await handled(http, web)
    worker.send_signal(signal.SIGSTOP)
    try:
        # Nobody watches mypage meanwhile: its worker is paused.
        await asyncio.gather(*(driver.drive(plan, watch=False) for plan in plans))
        backlog = await behind()
    finally:
        worker.send_signal(signal.SIGCONT)
    assert backlog > 2 * len(plans)  # several events per order wait for the worker

    async def first_batch_committed() -> float | None:
        moved = await handled(http, web) - before
        return moved if moved > 0 else None

    applied = await wait_for(
        first_batch_committed, within=180, interval=0.02, what=f"{WORKER} to commit a batch"
    )
    faults.kill_worker(WORKER)
    left = await behind()  # what the restarted worker gets again or for the first time
    faults.restart_worker(WORKER)

    failed = [f"{p.scenario.name} {p.order_id}: {p.error}" for p in plans if p.error]
    verdict = await converge(world, within=240)
    fault_report(
        "batch_kill",
        "mypage's worker SIGKILLed in the middle of its backlog's batches and restarted",
        verdict,
        backlog=backlog,
        applied_when_killed=applied,
        uncommitted_when_killed=left,
        failed_orders=failed,
    )
    assert failed == []
    assert verdict.clean, verdict.row()["problems"]
