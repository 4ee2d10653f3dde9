"""A worker built from the shared plumbing, stopped with SIGTERM while a handler
is in flight: the handler finishes, its offset is committed, the process exits 0.
The worker's readiness names the partitions its consumer owns."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared_events import encode, wrap
from testkit import eventually
from testkit.probes import probe_topics
from testkit.samples import order_placed

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowProbe:
    def __init__(self, kafka, tmp_path: Path, name: str, topic: str) -> None:
        self.kafka, self.name, self.topic = kafka, name, topic
        self.db = tmp_path / "probe.db"
        self.started = tmp_path / "started"
        self.log_path = tmp_path / "probe.log"
        self.interrupt = tmp_path / "interrupt"
        self.handler_seconds = 3.0
        self.web_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PROBE_NAME": self.name,
            "PROBE_TOPIC": self.topic,
            "PROBE_DB": str(self.db),
            "PROBE_STARTED": str(self.started),
            "PROBE_HANDLER_SECONDS": str(self.handler_seconds),
            "PROBE_INTERRUPT": str(self.interrupt),
            "PROBE_WEB_PORT": str(self.web_port),
            "KAFKA": self.kafka.bootstrap,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "testkit.slow_probe_worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def readiness(self) -> httpx.Response | None:
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                return await http.get(f"http://127.0.0.1:{self.web_port}/health/ready")
        except httpx.HTTPError:
            return None

    def started_orders(self) -> list[str]:
        return self.started.read_text().split() if self.started.exists() else []

    def applied(self) -> list[str]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                return [row[0] for row in conn.execute("SELECT order_id FROM applied")]
            except sqlite3.OperationalError:
                return []

    async def publish(self, *events, partition: int = 0) -> list:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap)
        await producer.start()
        try:
            return [
                await producer.send_and_wait(
                    self.topic,
                    encode(wrap(e, producer="order-service")),
                    key=e.order_id.encode(),
                    partition=partition,
                )
                for e in events
            ]
        finally:
            await producer.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
async def probe(kafka, tmp_path):
    name, topic = await probe_topics(kafka.bootstrap, "slow-probe")
    probe = SlowProbe(kafka, tmp_path, name, topic)
    probe.start()
    yield probe
    probe.stop()


async def wait_ready(probe: SlowProbe) -> dict:
    async def ready():
        r = await probe.readiness()
        return r.json() if r is not None and r.status_code == 200 else None

    return await eventually(ready, within=90, what="the worker's consumer to own its partitions")


async def committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    meta = found.get(tp)
    return meta.offset if meta is not None and meta.offset >= 0 else None


async def test_the_worker_is_ready_once_its_consumer_owns_the_partitions(probe):
    body = await wait_ready(probe)
    assert body["checks"] == {"consumer": True, "database": True}
    assert body["partitions"] == {probe.topic: [0, 1, 2]}
    async with httpx.AsyncClient(timeout=10) as http:
        live = await http.get(f"http://127.0.0.1:{probe.web_port}/health/live")
    assert live.json() == {"status": "ok"}


async def test_sigterm_lets_the_handler_in_flight_finish_and_commits_its_offset(kafka, probe):
    await wait_ready(probe)
    event = order_placed()
    [sent] = await probe.publish(event)

    async def in_flight():
        return event.order_id in probe.started_orders()

    await eventually(in_flight, within=60, what="the handler to start")
    assert probe.applied() == []  # still inside its transaction
    probe.proc.send_signal(signal.SIGTERM)

    assert probe.proc.wait(timeout=60) == 0
    assert probe.applied() == [event.order_id]  # it finished rather than being cut off
    tp = TopicPartition(probe.topic, sent.partition)
    assert await committed(kafka.bootstrap, probe.name, tp) == sent.offset + 1


async def test_a_handler_cut_off_mid_way_is_not_acknowledged_and_comes_back(kafka, tmp_path):
    name, topic = await probe_topics(kafka.bootstrap, "slow-probe")
    probe = SlowProbe(kafka, tmp_path, name, topic)
    probe.handler_seconds = 0
    probe.interrupt.touch()  # the first handler is cancelled inside its transaction
    probe.start()
    try:
        await wait_ready(probe)
        cut, behind, elsewhere = order_placed(), order_placed(), order_placed()
        [first, _] = await probe.publish(cut, behind, partition=0)

        async def cut_off():
            r = await probe.readiness()
            return r is not None and r.status_code == 503 and r.json()["held"] == {topic: [0]}

        await eventually(cut_off, within=60, what="the worker to hold the cut-off partition")
        await probe.publish(elsewhere, partition=1)

        async def elsewhere_applied():
            return elsewhere.order_id in probe.applied()

        await eventually(elsewhere_applied, within=60, what="the other partition to go on")
        # Nothing of the held partition was applied or acknowledged: `behind` waits
        # for `cut`, and the group's offset stays at `cut` when the worker stops.
        assert probe.started_orders()[0] == cut.order_id
        assert probe.applied() == [elsewhere.order_id]
        probe.proc.send_signal(signal.SIGTERM)
        assert probe.proc.wait(timeout=60) == 0
        tp = TopicPartition(topic, 0)
        assert (await committed(kafka.bootstrap, name, tp) or 0) <= first.offset

        # The restarted worker applies the partition in order; the rest stays once.
        probe.start()

        async def all_applied():
            return len(probe.applied()) == 3

        await eventually(all_applied, within=90, what="the held partition redelivered")
        assert sorted(probe.applied()) == sorted(e.order_id for e in (cut, behind, elsewhere))
        assert probe.started_orders()[-2:] == [cut.order_id, behind.order_id]
    finally:
        probe.stop()
