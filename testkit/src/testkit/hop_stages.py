"""Where an event hop's time goes, from what the system records anyway: no probe in
the services, so the breakdown costs the measured run nothing.

For each hop (`POST /orders` answered -> `GET /mypage/orders/{id}` shows it) of the
bench, its OrderPlaced is followed through four clocks of the same machine:

    staged      order-service's outbox row `created_at` (in the command's transaction)
    produced    the Kafka record's timestamp (CreateTime: set by the relay's producer)
    acked       the outbox row's `published_at` (marked once the broker acknowledged)
    applied     mypage's inbox row `processed_at` (in the batch's transaction; a lone
                event's is stamped as its claim is sent, before that statement's
                BEGIN IMMEDIATE waits for SQLite's write lock, so on SQLite that
                wait falls in applied -> visible)
    visible     the driver saw the status page answer (its own clock)

so a stage's p50/p99 says whether the tail is in the relay (staged -> produced), the
broker's acknowledgement (produced -> acked), the consumer (produced -> applied: fetch,
batching, the batch's transaction) or the read side (applied -> visible).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from service_kit.db import create_engine
from service_kit.tables import inbox, outbox
from shared_events.topics import ORDER_EVENTS


@dataclass(frozen=True)
class Hop:
    order_id: str
    answered: float  # time.time() when POST /orders was answered
    visible: float  # time.time() when the status page first showed the order


def _epoch(at: datetime | str) -> float:
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def _rows(url: str, query: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def _produced(bootstrap: str, event_ids: set[str]) -> dict[str, float]:
    """The record timestamp of each of `event_ids` on the order topic, by event id."""
    consumer = AIOKafkaConsumer(
        ORDER_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    found: dict[str, float] = {}
    await consumer.start()
    try:
        while len(found) < len(event_ids):
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break  # read to the end
            for records in batch.values():
                for record in records:
                    event_id = json.loads(record.value or b"{}").get("event_id")
                    if event_id in event_ids:
                        found[event_id] = record.timestamp / 1000
    finally:
        await consumer.stop()
    return found


async def hop_stages(
    hops: Iterable[Hop], order_db: str, mypage_db: str, bootstrap: str
) -> dict[str, Any]:
    """p50/p99 (ms) of each stage of the hops' OrderPlaced, and how many were traced."""
    by_order = {hop.order_id: hop for hop in hops}
    staged = await _rows(
        order_db,
        select(outbox.c.message_key, outbox.c.event_id, outbox.c.created_at, outbox.c.published_at)
        .where(outbox.c.event_type == "OrderPlaced")
        .where(outbox.c.message_key.in_(by_order)),
    )
    event_ids = {str(row.event_id) for row in staged}
    applied = {
        str(row.event_id): _epoch(row.processed_at)
        for row in await _rows(
            mypage_db,
            select(inbox.c.event_id, inbox.c.processed_at).where(inbox.c.event_id.in_(event_ids)),
        )
    }
    produced = await _produced(bootstrap, event_ids)
    stages: dict[str, list[float]] = {
        "answered -> visible (the hop)": [],
        "staged -> answered (the API's own answer)": [],
        "staged -> produced (commit, relay wake and read, send)": [],
        "produced -> acked (broker acks=all, marking sent)": [],
        "produced -> applied (fetch, batch, the consumer's transaction)": [],
        "applied -> visible (commit, the driver's 5 ms poll, GET)": [],
    }
    names = list(stages)
    for row in staged:
        hop, event_id = by_order[row.message_key], str(row.event_id)
        if event_id not in applied or event_id not in produced or row.published_at is None:
            continue
        at = (_epoch(row.created_at), produced[event_id], _epoch(row.published_at))
        samples = (
            hop.visible - hop.answered,
            hop.answered - at[0],
            at[1] - at[0],
            at[2] - at[1],
            applied[event_id] - at[1],
            hop.visible - applied[event_id],
        )
        for name, seconds in zip(names, samples, strict=True):
            stages[name].append(seconds * 1000)
    traced = len(stages[names[0]])
    return {
        "traced": traced,
        "stages_ms": {
            name: {"p50": _pct(s, 0.5), "p99": _pct(s, 0.99), "max": round(max(s), 2)}
            for name, s in stages.items()
            if s
        },
    }
