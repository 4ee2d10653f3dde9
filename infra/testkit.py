"""Helpers the integration and end-to-end tests share: deadlines, never fixed sleeps."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer

from shared_events import decode

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
KAFKA_SH = ROOT / "infra" / "kafka" / "kafka.sh"
POSTGRES_SH = ROOT / "infra" / "postgres" / "postgres.sh"
TEST_KAFKA_PORT = int(os.environ.get("TEST_KAFKA_PORT", "19092"))
# The services under test listen on their usual ports plus this offset (18081, ...).
E2E_PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "10000"))


@dataclass
class KafkaBroker:
    port: int
    home: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_HOME": str(self.home)}
        subprocess.run([str(KAFKA_SH), command], check=True, env=env)

    def start(self) -> None:
        self._run("up")

    def stop(self) -> None:
        self._run("down")


def fresh_broker(port: int) -> Iterator[KafkaBroker]:
    import asyncio

    from shared_events.topics_cli import ensure_topics

    home = ROOT / ".local" / f"kafka-test-{port}"
    broker = KafkaBroker(port, home)
    broker.stop()
    shutil.rmtree(home, ignore_errors=True)  # every session starts from an empty broker
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap))
    yield broker
    broker.stop()


@dataclass
class PostgresServer:
    def url(self, database: str) -> str:
        return subprocess.run(
            [str(POSTGRES_SH), "url", database], check=True, capture_output=True, text=True
        ).stdout.strip()

    def reset(self, database: str) -> str:
        subprocess.run([str(POSTGRES_SH), "reset", database], check=True, capture_output=True)
        return self.url(database)


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
