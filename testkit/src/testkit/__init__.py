"""Helpers the integration and end-to-end tests share: deadlines, never fixed sleeps."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from service_kit import snapshot
from service_kit.consumer import RawMessage
from service_kit.snapshot import end_offsets, read_snapshot
from shared_events import decode
from testkit.waiting import eventually as eventually  # the tests import it from here

ROOT = Path(__file__).resolve().parents[3]
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

    from fooddelivery_ops.topics import ensure_topics

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

    def pid(self) -> int:
        """The server's (postmaster's) pid."""
        return int(
            subprocess.run(
                [str(POSTGRES_SH), "pid"], check=True, capture_output=True, text=True
            ).stdout
        )

    def reset(self, database: str) -> str:
        subprocess.run([str(POSTGRES_SH), "reset", database], check=True, capture_output=True)
        return self.url(database)


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


# ---------------------------------------------------------------- faults and topics
# Shared by the fault tests (tests/faults) and the lifecycle load bench.


@dataclass
class Faults:
    """Breaks the running system on purpose, and `restore()` puts it back: the broker
    up, and every worker the system had running again (a killed one restarted)."""

    broker: KafkaBroker
    system: Any  # launcher.System; typed loosely so testkit never imports the launcher

    def stop_broker(self) -> None:
        self.broker.stop()

    def start_broker(self) -> None:
        self.broker.start()

    def kill_worker(self, service: str) -> None:
        """SIGKILL: no handler finishes, no offset is committed on the way out."""
        self.system.stop_process(f"{service}-worker", sig=signal.SIGKILL)

    def restart_worker(self, service: str) -> None:
        self.system.start_worker(service)

    def restore(self) -> None:
        from testkit.launcher import SERVICES

        self.broker.start()  # idempotent: a running broker is left alone
        for spec in SERVICES:
            for replica in range(self.system.replicas_of(spec) if spec.has_worker else 0):
                name = self.system.process_name(spec, "worker", replica)
                proc = self.system.processes.get(name)
                if proc is None or proc.poll() is not None:
                    self.system.processes.pop(name, None)
                    self.system.start_worker(spec.name, replica=replica)
        self.system.wait_ready()  # the next test starts on a system that answers


async def read_to_end(bootstrap: str, topics: list[str], *, within: float = 60) -> list[RawMessage]:
    """Every record of `topics` from the beginning up to the end offsets as they are
    when called, in offset order per partition. No consumer group is joined."""
    return await read_snapshot(bootstrap, topics, client_id="testkit", stall_timeout=within)


async def committed_offsets(
    bootstrap: str, group: str, *, within: float = 60
) -> dict[TopicPartition, int]:
    """The offsets a consumer group has committed (the next offset it will read),
    asked again while a just-started broker cannot answer yet."""
    return await snapshot.committed_offsets(bootstrap, group, within=within, client_id="testkit")


async def lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """How many messages of `topics` the consumer group has not committed yet."""
    ends = await end_offsets(bootstrap, topics)
    committed = await committed_offsets(bootstrap, group)
    return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())
