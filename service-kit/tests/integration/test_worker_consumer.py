"""The consumer side on a real worker and broker: duplicates are applied once,
a failing handler's message is parked with its origin, and the stream goes on."""

import os
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaProducer

from shared_events import encode, wrap
from shared_events.contract import OrderCancelled
from shared_events.topics import dead_letter_topic
from testkit import eventually, read_topic
from testkit.probes import applied_rows, free_port, probe_topics
from testkit.samples import order_placed

pytestmark = pytest.mark.kafka


@pytest.fixture
async def probe(kafka, tmp_path):
    name, topic = await probe_topics(kafka.bootstrap, "probe")
    db = tmp_path / "probe.db"
    env = {
        **os.environ,
        "PROBE_NAME": name,
        "PROBE_TOPIC": topic,
        "PROBE_DB": str(db),
        "KAFKA": kafka.bootstrap,
        "PROBE_WEB_PORT": str(free_port()),
    }
    log = open(tmp_path / "probe.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "testkit.probe_worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield name, topic, db
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


async def test_duplicates_apply_once_and_failures_are_parked_while_the_stream_goes_on(kafka, probe):
    name, topic, db = probe
    first, second = order_placed(), order_placed()
    placed = encode(wrap(first, producer="order-service"))
    cancelled = encode(
        wrap(
            OrderCancelled(order_id=first.order_id, customer_id="c1", store_id="s1"),
            producer="order-service",
        )
    )
    later = encode(wrap(second, producer="order-service"))
    key = b"same-partition"  # one partition, so "the next message" is well defined

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    offsets = []
    for value in (placed, placed, cancelled, b"{oops", later):
        offsets.append((await producer.send_and_wait(topic, value, key=key)).offset)
    await producer.stop()

    async def both_applied():
        rows = applied_rows(db)
        return rows if {o for o, _ in rows} == {first.order_id, second.order_id} else None

    rows = await eventually(both_applied, within=90, what="both orders applied")
    assert sorted(o for o, _ in rows) == sorted([first.order_id, second.order_id])  # once each

    parked = await read_topic(
        kafka.bootstrap, [dead_letter_topic(name)], until=lambda r: len(r) >= 2
    )
    assert [r.value for r in parked] == [cancelled, b"{oops"]
    broken, malformed = (dict(r.headers) for r in parked)
    assert broken["dlq.origin_topic"].decode() == topic
    assert int(broken["dlq.origin_offset"]) == offsets[2]
    assert broken["dlq.origin_partition"].isdigit()
    assert b"the cancellation policy is broken" in broken["dlq.error"]
    assert broken["dlq.attempts"] == b"3"
    assert malformed["dlq.error_type"] == b"InvalidEvent"
    assert int(malformed["dlq.origin_offset"]) == offsets[3]
