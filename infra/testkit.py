"""Helpers the integration and end-to-end tests share: deadlines, never fixed sleeps."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer

from shared_events import decode

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = 30,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll until `probe` returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")


async def read_topic(
    bootstrap: str,
    topics: list[str],
    *,
    until: Callable[[list], bool],
    within: float = 60,
    keys: set[str] | None = None,
) -> list:
    """Read raw records from the beginning until `until(records)`; only `keys` if given."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    try:
        deadline = time.monotonic() + within
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topics}: got {len(records)} records")
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                for record in partition_records:
                    if keys is None or (record.key and record.key.decode() in keys):
                        records.append(record)
    finally:
        await consumer.stop()
    return records


def envelopes(records: list) -> list:
    return [decode(r.value)[0] for r in records]
