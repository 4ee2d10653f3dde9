"""A worker sent SIGTERM while its broker is unreachable stops within its grace
period (WORKER_STOP_GRACE_S), and acknowledges nothing it did not apply: after the
broker and the worker are back, every event is applied exactly once."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service_kit.worker import FORCED_EXIT
from shared_events import encode, wrap
from shared_events.topics import dead_letter_topic
from testkit import TEST_KAFKA_PORT, KafkaBroker, eventually, fresh_broker
from testkit.samples import order_placed

pytestmark = pytest.mark.kafka

GRACE = 5  # seconds; the chassis's default is 15
EVENTS = 30


@pytest.fixture(scope="module")
def private_kafka() -> Iterator[KafkaBroker]:
    """A broker of this module's own: the test stops it."""
    yield from fresh_broker(TEST_KAFKA_PORT + 400)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Probe:
    def __init__(self, kafka: KafkaBroker, tmp_path: Path) -> None:
        self.name = f"stop-probe-{uuid.uuid4().hex[:8]}"
        self.topic = f"fooddelivery.{self.name}.events"
        self.kafka, self.tmp = kafka, tmp_path
        self.db = tmp_path / "probe.db"
        self.web_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PROBE_NAME": self.name,
            "PROBE_TOPIC": self.topic,
            "PROBE_DB": str(self.db),
            "PROBE_STARTED": str(self.tmp / "started"),
            "PROBE_HANDLER_SECONDS": "0.2",  # so some are in flight when the broker goes
            "PROBE_WEB_PORT": str(self.web_port),
            "KAFKA": self.kafka.bootstrap,
            "WORKER_STOP_GRACE_S": str(GRACE),
        }
        with open(self.tmp / "probe.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "testkit.slow_probe_worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                r = await http.get(f"http://127.0.0.1:{self.web_port}/health/ready")
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    def applied(self) -> list[str]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                return [row[0] for row in conn.execute("SELECT order_id FROM applied")]
            except sqlite3.OperationalError:
                return []

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def test_sigterm_with_the_broker_away_stops_in_bounded_time_and_loses_nothing(
    private_kafka, tmp_path
):
    probe = Probe(private_kafka, tmp_path)
    admin = AIOKafkaAdminClient(bootstrap_servers=private_kafka.bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(probe.topic, 3, 1), NewTopic(dead_letter_topic(probe.name), 3, 1)]
    )
    await admin.close()
    probe.start()
    try:
        await eventually(probe.ready, within=90, what="the worker to own its partitions")
        events = [order_placed() for _ in range(EVENTS)]
        producer = AIOKafkaProducer(bootstrap_servers=private_kafka.bootstrap)
        await producer.start()
        try:
            for e in events:
                await producer.send_and_wait(
                    probe.topic, encode(wrap(e, producer="order-service")), key=e.order_id.encode()
                )
        finally:
            await producer.stop()

        async def under_way() -> bool:
            return len(probe.applied()) >= 3

        await eventually(under_way, within=60, what="some events applied")
        private_kafka.stop()  # mid-stream: the rest waits, unapplied or unacknowledged
        assert probe.proc is not None
        probe.proc.send_signal(signal.SIGTERM)

        async def exited() -> bool:
            return probe.proc is not None and probe.proc.poll() is not None

        # Bounded: it exits (before the fix it was still alive after minutes).
        await eventually(exited, within=GRACE + 45, what="the worker to exit")
        assert probe.proc.returncode in (0, FORCED_EXIT)  # stopped, or gave up waiting

        private_kafka.start()
        probe.start()

        async def all_applied() -> bool:
            return len(probe.applied()) >= EVENTS

        await eventually(all_applied, within=120, what="every event applied after the restart")
        applied = probe.applied()
        assert sorted(applied) == sorted(e.order_id for e in events)  # none lost, none twice
    finally:
        probe.kill()
