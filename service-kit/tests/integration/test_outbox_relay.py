"""The outbox relay against the real broker: commit order, and a broker outage."""

import asyncio
import uuid

import pytest

from service_kit.db import create_engine, session_factory
from service_kit.outbox import OutboxRelay, make_producer, stage
from service_kit.reads import Reads
from service_kit.tables import plumbing_metadata
from shared_events import wrap
from shared_events.contract import CookFinished, CookStarted, OrderAccepted
from shared_events.topics import STORE_EVENTS
from testkit import envelopes, eventually, read_topic

pytestmark = pytest.mark.kafka


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(plumbing_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


def relay_for(sessions, kafka, reads: Reads | None = None) -> OutboxRelay:
    return OutboxRelay(
        sessions,
        lambda: make_producer(kafka.bootstrap, "test-relay"),
        max_backoff=1.0,
        reads=reads,
    )


async def commit_lifecycles(sessions, orders: int) -> dict[str, list[str]]:
    """Interleave the kitchen events of several orders, one transaction each."""
    order_ids = [str(uuid.uuid4()) for _ in range(orders)]
    expected: dict[str, list[str]] = {o: [] for o in order_ids}
    for step in (OrderAccepted, CookStarted, CookFinished):
        for order_id in order_ids:
            envelope = wrap(step(order_id=order_id, store_id="s1"), producer="store-service")
            async with sessions() as session, session.begin():
                await stage(session, [envelope])
            expected[order_id].append(str(envelope.event_id))
    return expected


def published_order(records) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for envelope in envelopes(records):
        seen.setdefault(envelope.aggregate_id, []).append(str(envelope.event_id))
    return seen


@pytest.mark.parametrize("through_reads", [False, True], ids=["sessions", "reads"])
async def test_relay_publishes_in_commit_order_keyed_by_aggregate(
    engine, sessions, kafka, through_reads: bool
):
    """As a service runs it (reading and marking through platform.reads) and without."""
    expected = await commit_lifecycles(sessions, orders=5)
    reads = Reads(engine) if through_reads else None
    relay = relay_for(sessions, kafka, reads)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _none_pending(relay), what="the outbox to drain")
    finally:
        relay.stop()
        await task
        if reads is not None:
            reads.close()

    records = await read_topic(
        kafka.bootstrap, [STORE_EVENTS], keys=set(expected), until=lambda r: len(r) >= 15
    )
    assert published_order(records) == expected  # each order's events once, in order
    first = records[0]
    assert dict(first.headers)["event_type"] in {b"OrderAccepted", b"CookStarted", b"CookFinished"}
    assert dict(first.headers)["event_version"] == b"1"
    assert {r.key.decode() for r in records} == set(expected)
    assert len({r.partition for r in records if r.key == first.key}) == 1


async def test_events_committed_while_the_broker_is_down_all_flow_in_order_once_it_returns(
    sessions, kafka
):
    kafka.stop()
    try:
        expected = await commit_lifecycles(sessions, orders=4)
        relay = relay_for(sessions, kafka)
        task = asyncio.create_task(relay.run())
        # The relay is trying and failing: nothing is marked published meanwhile.
        await eventually(lambda: _failed_once(relay), what="a failed publish attempt")
        assert await relay.pending() == 12
    finally:
        await asyncio.to_thread(kafka.start)
    try:
        await eventually(lambda: _none_pending(relay), within=90, what="the outbox to drain")
    finally:
        relay.stop()
        await task

    records = await read_topic(
        kafka.bootstrap, [STORE_EVENTS], keys=set(expected), until=lambda r: len(r) >= 12
    )
    assert published_order(records) == expected


async def _none_pending(relay: OutboxRelay) -> bool:
    return await relay.pending() == 0


async def _failed_once(relay: OutboxRelay) -> bool:
    return relay.failures > 0
