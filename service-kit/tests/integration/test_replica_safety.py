"""Replica safety on a real PostgreSQL: the relay lease has one holder at a time and
moves when the holder's connection dies; two claimers never get the same row."""

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, func, select, text

from service_kit import metrics
from service_kit.claims import claimed
from service_kit.db import create_engine
from service_kit.lease import AdvisoryLease, lease_key
from testkit import eventually

jobs = Table("jobs", MetaData(), Column("id", Integer, primary_key=True))


@pytest.fixture
async def engines(postgres):
    url = postgres.reset("test_replica_safety")
    one, two = create_engine(url), create_engine(url)
    yield one, two
    await one.dispose()
    await two.dispose()


async def test_one_holder_at_a_time_and_a_dead_holder_hands_over(engines):
    one, two = (AdvisoryLease(e, "order-service", retry_seconds=0.2) for e in engines)
    assert await one.hold()
    assert metrics.RELAY_LEASE_HELD._value.get() == 1
    assert not await two.hold()
    assert await one.hold()  # re-checked each round: still held

    # The holder dies: its connection goes, and PostgreSQL frees the lock with it.
    async with engines[1].connect() as admin:
        await admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND objid = (:key & 4294967295)"
                " AND classid = ((:key >> 32) & 4294967295)"
            ),
            {"key": lease_key("order-service")},
        )
        await admin.commit()

    assert await eventually(two.hold, within=10, what="the other replica to take the lease")
    assert not await one.hold()  # a lost connection is a lost lease
    await two.release()
    assert await eventually(one.hold, within=10, what="the lease free again after release")
    await one.release()


async def test_a_held_lease_asks_the_server_once_every_ask_every(engines):
    """Each round sees a closed connection without a round trip (the test above); the
    server is asked whether the session lives at most once every `ask_every`."""
    now = [0.0]
    lease = AdvisoryLease(engines[0], "store-service", ask_every=5, clock=lambda: now[0])
    asked: list[str] = []
    event.listen(engines[0].sync_engine, "before_cursor_execute", lambda *a: asked.append(a[2]))
    assert await lease.hold()
    asked.clear()
    for _ in range(20):
        now[0] += 0.2  # rounds within 4 s of taking it
        assert await lease.hold()
    assert asked == []
    now[0] += 1.5
    assert await lease.hold()
    assert len(asked) == 1  # SELECT 1 on the lease's connection
    await lease.release()


async def test_services_never_contend_for_one_lease(engines):
    order, store = AdvisoryLease(engines[0], "order-service"), AdvisoryLease(engines[1], "s")
    assert await order.hold() and await store.hold()
    await order.release()
    await store.release()


async def test_two_concurrent_claimers_never_get_the_same_row(engines):
    async with engines[0].begin() as conn:
        await conn.run_sync(jobs.metadata.create_all)
        await conn.execute(jobs.insert(), [{"id": i} for i in range(40)])
    both_claimed = asyncio.Barrier(2)

    async def claimer(engine) -> list[int]:
        got: list[int] = []
        async with engine.begin() as conn:
            while ids := list(
                await conn.scalars(
                    claimed(select(jobs.c.id).order_by(jobs.c.id).limit(3)).where(
                        jobs.c.id.not_in(got or [-1])
                    )
                )
            ):
                got += ids
                await asyncio.sleep(0)
            await both_claimed.wait()  # both hold their rows at once
        return got

    first, second = await asyncio.gather(claimer(engines[0]), claimer(engines[1]))
    assert not set(first) & set(second)
    assert sorted(first + second) == list(range(40))
    async with engines[0].connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(jobs)) == 40
