"""Transactional outbox: stage events in the caller's transaction, relay them later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, wait_exponential

from service_kit import telemetry
from service_kit.db import execute
from service_kit.lease import AlwaysGranted, Lease, gated
from service_kit.loop import WorkLoop
from service_kit.reads import Reads
from service_kit.tables import outbox
from shared_events.envelope import Envelope, encode, utcnow
from shared_events.registry import model_for

log = logging.getLogger(__name__)


async def stage(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Write events to the outbox inside the caller's (uncommitted) transaction."""
    if not envelopes:
        return
    traceparent = telemetry.current_traceparent()  # the command's or policy's span
    await execute(
        session,
        _STAGE,
        [
            {
                "event_id": str(env.event_id),
                "event_type": env.event_type,
                "event_version": env.event_version,
                "topic": model_for(env.event_type, env.event_version).topic,
                "message_key": env.aggregate_id,
                "message": encode(env).decode(),
                "created_at": env.occurred_at,
                "traceparent": traceparent,
            }
            for env in envelopes
        ],
    )


_STAGE = insert(outbox)  # built once


def message_headers(event_type: str, event_version: int) -> list[tuple[str, bytes]]:
    """The Kafka headers of every published message: a consumer can tell what a message
    is without decoding it (docs/asyncapi.yaml documents them)."""
    return [("event_type", event_type.encode()), ("event_version", str(event_version).encode())]


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send is never written twice nor reordered."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
        linger_ms=0,
    )


class LazyProducer:
    """A producer started on first use. After a failure the user closes it, so a
    producer that lost its broker is rebuilt rather than trusted again."""

    def __init__(self, factory: Callable[[], AIOKafkaProducer]) -> None:
        self._factory = factory
        self._producer: AIOKafkaProducer | None = None

    async def get(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._factory()
            try:
                await producer.start()
            except BaseException:
                with suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)


def unsent(conn: Connection, limit: int) -> list[Any]:
    """Up to `limit` unsent rows, oldest first (commit order): a relay's round."""
    return list(conn.execute(_UNSENT, {"limit": limit}).all())


_UNSENT = (  # built once: building it (and its cache key) cost more than the query
    select(
        outbox.c.id,
        outbox.c.topic,
        outbox.c.message_key,
        outbox.c.message,
        outbox.c.event_type,
        outbox.c.event_version,
        outbox.c.traceparent,
    )
    .where(outbox.c.published_at.is_(None))
    .order_by(outbox.c.id)
    .limit(bindparam("limit"))
)


def mark_sent(conn: Connection, ids: list[int]) -> None:
    """The rows of `ids` sent: the relay's mark, once per round for all it sent."""
    conn.execute(_MARK, {"ids": ids, "at": utcnow()})


_MARK = (  # built once, as _STAGE
    update(outbox)
    .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("at", type_=outbox.c.published_at.type))
)


class OutboxRelay(WorkLoop):
    """Publishes unsent outbox rows in id order and marks them sent.

    One round (`publish_batch`) sends a batch: the rows of different keys together,
    the rows of one key (order) strictly in id order, each after the previous one was
    acknowledged. While the broker is away the relay keeps retrying the oldest unsent
    rows; nothing is skipped, dropped, or marked sent without an acknowledgement.
    A round runs only while the relay holds `lease` (lease.py): one relay per
    service database publishes at a time, however many replicas run; a commit in
    another process wakes it (`service_kit.wake`).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        reads: Reads | None = None,
        batch_size: int = 500,
        # Every commit that stages events wakes the relay, so the poll is only a
        # backstop (a lost wake datagram): idle, it costs one query a second.
        poll_interval: float = 1.0,
        max_backoff: float = 5.0,
        backoff_multiplier: float = 0.2,
        lease: Lease | None = None,
    ) -> None:
        # wake() is called after a commit that staged events, so they go out at once;
        # stop() ends a backoff at once: a stopping process must not sit out the
        # broker's absence, the rows stay unpublished for the next start.
        self._lease = lease or AlwaysGranted()
        super().__init__(self._pass, poll_interval, backoff_multiplier, max_backoff)
        self._round = gated(self._lease, self.publish_batch)
        self._sessions = sessions
        # The round's query only reads: on SQLite one hop to a deferred (lock-free)
        # read on the `reads` pool instead of an ORM session's half-dozen.
        self._reads = reads
        self._batch_size = batch_size
        self._drained = True  # the last round took every unsent row there was
        self._producer = LazyProducer(producer_factory)
        self.published = 0
        self.failures = 0

    async def close(self) -> None:
        await self._producer.close()
        await self._lease.release()

    async def _pass(self) -> int:
        """One round; nonzero when more rows may be waiting (a full batch). A round
        that took fewer than a batch drained the table as it stood when read, and a
        commit since then has woken the relay: no second read right after it."""
        sent = await self._round()
        return 0 if self._drained else sent

    async def _unsent(self) -> list[Any]:
        if self._reads is not None:
            return await self._reads(unsent, self._batch_size)
        async with self._sessions() as session:
            conn = await session.connection()
            return await conn.run_sync(unsent, self._batch_size)

    async def publish_batch(self) -> int:
        """Publish up to one batch of unsent rows; returns how many went out."""
        rows = await self._unsent()
        self._drained = len(rows) < self._batch_size
        if not rows:
            return 0
        producer = await self._producer.get()
        # One chain per key (order), all chains at once, so the producer still batches
        # across keys. Within a chain a row is sent only once the previous one was
        # acknowledged: a row that fails for good ends its chain for this round, and
        # no later row of its key can overtake it.
        chains: dict[str, list[Any]] = {}  # rows of the query above, by key
        for row in rows:
            chains.setdefault(row.message_key, []).append(row)
        outcomes = await asyncio.gather(*(self._send_chain(producer, c) for c in chains.values()))
        sent = [row_id for acked, _ in outcomes for row_id in acked]
        # Only what was acknowledged is marked; the rest goes out on the next round.
        if sent:
            await self._mark_published(sent)
        self.published += len(sent)
        failed = next((exc for _, exc in outcomes if exc is not None), None)
        if failed is not None:
            raise failed
        return len(sent)

    @staticmethod
    async def _send_chain(
        producer: AIOKafkaProducer, rows: list[Any]
    ) -> tuple[list[int], Exception | None]:
        """Send one key's rows in id order, each after the previous was acknowledged:
        the ids acknowledged, and the failure that stopped the chain (if one did)."""
        acked: list[int] = []
        for row in rows:
            try:
                with telemetry.publishing(row.traceparent, row.topic, row.event_type) as traced:
                    delivery = await producer.send(
                        row.topic,
                        value=row.message.encode(),
                        key=row.message_key.encode(),
                        headers=message_headers(row.event_type, row.event_version) + traced,
                    )
                    await delivery
            except Exception as exc:  # reported by publish_batch, after the marking
                return acked, exc
            acked.append(row.id)
        return acked, None

    async def pending(self) -> int:
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                )
            ).scalar_one()

    async def _mark_published(self, ids: list[int]) -> None:
        async for attempt in AsyncRetrying(wait=wait_exponential(max=2), reraise=True):
            with attempt:
                if self._reads is not None:
                    # One statement on a Core connection (on SQLite right on the loop's
                    # thread when the file is free; on PostgreSQL in autocommit): not
                    # an ORM session's begin, execute, commit and close around it.
                    await self._reads.write_one(mark_sent, ids)
                else:
                    async with self._sessions() as session, session.begin():
                        await execute(session, _MARK, {"ids": ids, "at": utcnow()})

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        self.failures += 1
        log.warning("outbox relay: publish failed (%s: %s); retrying", type(exc).__name__, exc)
        await self._producer.close()
