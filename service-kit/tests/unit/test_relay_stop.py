"""Stopping the outbox relay: the batch in flight finishes and is marked; a backoff
after a failure ends at once; nothing staged is dropped either way."""

import asyncio

import pytest

from service_kit.outbox import OutboxRelay, stage
from shared_events import wrap
from shared_events.contract import CookStarted
from testkit import eventually


class FakeProducer:
    """Stands in for the aiokafka producer: fails, or holds each ack until released."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.release = asyncio.Event()
        self.sending = asyncio.Event()
        self.sent: list[bytes] = []

    async def start(self) -> None:
        if self.fail:
            raise ConnectionError("no broker")

    async def stop(self) -> None:
        pass

    async def send(self, topic, value, key, headers) -> asyncio.Future:
        """Like aiokafka: the record is queued now, the returned future is its ack."""
        self.sending.set()

        async def acknowledged() -> None:
            await self.release.wait()
            self.sent.append(value)

        return asyncio.ensure_future(acknowledged())


@pytest.fixture
async def sessions(outbox_sessions):
    sessions = outbox_sessions
    events = [CookStarted(order_id=f"o{i}", store_id="s1") for i in range(3)]
    async with sessions() as session, session.begin():
        await stage(session, [wrap(e, producer="store-service") for e in events])
    return sessions


async def test_stop_lets_the_batch_in_flight_finish_and_marks_it(sessions):
    producer = FakeProducer()
    relay = OutboxRelay(sessions, lambda: producer)
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(producer.sending.wait(), timeout=10)

    relay.stop()  # while the first row is being sent
    producer.release.set()
    await asyncio.wait_for(task, timeout=10)

    assert len(producer.sent) == 3  # the whole batch went out ...
    assert await relay.pending() == 0  # ... and is marked, so a restart won't resend it


async def test_stop_ends_a_backoff_at_once_and_drops_nothing(sessions):
    # A backoff of ten minutes after the first failure: only stop() can end it in time.
    relay = OutboxRelay(
        sessions, lambda: FakeProducer(fail=True), backoff_multiplier=600, max_backoff=600
    )
    task = asyncio.create_task(relay.run())

    async def failed():
        return relay.failures >= 1

    await eventually(failed, within=10, what="the first failed attempt")
    relay.stop()
    await asyncio.wait_for(task, timeout=10)

    assert await relay.pending() == 3  # still staged for the next start
    producer = FakeProducer()
    producer.release.set()
    again = OutboxRelay(sessions, lambda: producer)
    task = asyncio.create_task(again.run())
    try:
        await eventually(lambda: _drained(again), within=10, what="the outbox to drain")
    finally:
        again.stop()
        await task
    assert len(producer.sent) == 3


async def _drained(relay: OutboxRelay) -> bool:
    return await relay.pending() == 0
