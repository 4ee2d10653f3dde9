"""The relay keeps each order's events in commit order, even when one send fails for
good in the middle of a batch: later rows of that order wait for the next round,
rows of other orders go out in the same round, and only acknowledged rows are marked."""

import asyncio

import pytest
from sqlalchemy import select

from service_kit.outbox import OutboxRelay, stage
from service_kit.tables import outbox
from shared_events import decode, wrap
from shared_events.contract import CookStarted


class FlakyBroker:
    """A fake producer whose `send` fails for good (after its own retries, as
    aiokafka's future would) for the messages named in `fail`, once each."""

    def __init__(self, fail: set[tuple[str, int]]) -> None:
        self.fail = fail
        self.in_flight: dict[str, int] = {}  # per key: sends not yet acknowledged
        self.overlapped: set[str] = set()  # keys that ever had two sends in flight
        self.received: dict[str, list[int]] = {}  # per key: what reached the broker

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, topic, value, key, headers) -> asyncio.Future:
        key_text = key.decode()
        store_id = decode(value)[1].store_id  # the row's place in its key: s0, s1...
        number = int(store_id[1:])
        self.in_flight[key_text] = self.in_flight.get(key_text, 0) + 1
        if self.in_flight[key_text] > 1:
            self.overlapped.add(key_text)

        async def acknowledged() -> None:
            await asyncio.sleep(0)  # other keys' sends interleave here
            self.in_flight[key_text] -= 1
            if (key_text, number) in self.fail:
                self.fail.discard((key_text, number))
                raise TimeoutError("request timed out")
            self.received.setdefault(key_text, []).append(number)

        return asyncio.ensure_future(acknowledged())


@pytest.fixture
async def sessions(outbox_sessions):
    sessions = outbox_sessions
    # Commit order: a0 b0 a1 b1 a2 b2 a3 (keys a, b; store_id numbers each key's rows).
    for n in range(4):
        for order in ("a", "b") if n < 3 else ("a",):
            event = CookStarted(order_id=order, store_id=f"s{n}")
            async with sessions() as session, session.begin():
                await stage(session, [wrap(event, producer="store-service")])
    return sessions


async def _unsent(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(outbox.c.message_key, outbox.c.message)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
        )
        return [(key, decode(message)[1].store_id) for key, message in rows]


async def test_a_failed_send_holds_back_the_rest_of_its_order_only(sessions):
    broker = FlakyBroker(fail={("a", 1)})
    relay = OutboxRelay(sessions, lambda: broker)

    with pytest.raises(TimeoutError):
        await relay.publish_batch()

    # a1 failed: a2 and a3 were not even sent; order b went out whole in the same round.
    assert broker.received == {"a": [0], "b": [0, 1, 2]}
    assert await _unsent(sessions) == [("a", "s1"), ("a", "s2"), ("a", "s3")]
    assert relay.published == 4

    assert await relay.publish_batch() == 3  # the next round: a1, a2, a3 in order
    assert broker.received == {"a": [0, 1, 2, 3], "b": [0, 1, 2]}
    assert await _unsent(sessions) == []
    assert broker.overlapped == set()  # never two rows of one key in flight at once


async def test_different_orders_are_in_flight_together(sessions):
    broker = FlakyBroker(fail=set())
    relay = OutboxRelay(sessions, lambda: broker)
    most_in_flight = 0
    send = broker.send

    async def watching(*args, **kwargs):
        nonlocal most_in_flight
        future = await send(*args, **kwargs)
        most_in_flight = max(most_in_flight, sum(broker.in_flight.values()))
        return future

    broker.send = watching  # type: ignore[method-assign]
    assert await relay.publish_batch() == 7
    assert most_in_flight == 2  # one of each order at a time, both orders at once
    assert broker.received == {"a": [0, 1, 2, 3], "b": [0, 1, 2]}


async def test_a_round_that_drained_the_table_asks_for_no_second_read(sessions):
    # The 7 rows in batches of 3: two full rounds say "more may wait", the third
    # (1 row, fewer than a batch) drained the table; new rows come with a wake().
    relay = OutboxRelay(sessions, lambda: FlakyBroker(fail=set()), batch_size=3)
    assert [await relay._pass() for _ in range(3)] == [3, 3, 0]
    assert relay.published == 7
    assert await _unsent(sessions) == []
