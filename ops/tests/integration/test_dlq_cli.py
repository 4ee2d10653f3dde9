"""The dead-letter CLI against a real broker and a real worker (the probe): `list`
shows what was parked without its payload, `replay --dry-run` publishes nothing, and
`replay` after the fix puts the message back on its origin topic, where it is applied
once however often it is replayed."""

import json
import os
import re
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from fooddelivery_ops.dlq import REPLAYED_FROM, DeadLetter, read_dead_letters, run, table
from shared_events import encode, wrap
from shared_events.contract import OrderCancelled
from shared_events.topics import dead_letter_topic
from testkit import eventually
from testkit.probes import applied_rows, free_port, probe_topics
from testkit.samples import order_placed

pytestmark = pytest.mark.kafka

PHONE, ADDRESS = "010-1234-5678", "12 Teheran-ro"


@pytest.fixture
async def probe(kafka, tmp_path):
    """The probe worker, with its cancellation policy broken while `broken` exists."""
    name, topic = await probe_topics(kafka.bootstrap, "probe")
    broken = tmp_path / "broken"
    broken.touch()
    db = tmp_path / "probe.db"
    env = {
        **os.environ,
        "PROBE_NAME": name,
        "PROBE_TOPIC": topic,
        "PROBE_DB": str(db),
        "PROBE_BROKEN_FLAG": str(broken),
        "KAFKA": kafka.bootstrap,
        "PROBE_WEB_PORT": str(free_port()),
    }
    with open(tmp_path / "probe.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "testkit.probe_worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield name, topic, db, broken
    proc.terminate()
    proc.wait(timeout=30)


async def cli(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()  # only this command's output
    code = await run(list(args))
    return code, capsys.readouterr().out


async def record_at(bootstrap: str, topic: str, partition: int, offset: int):
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        return await consumer.getone()
    finally:
        await consumer.stop()


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, topic: str, partition: int) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(topic, partition))
    return found.offset if found is not None else -1


async def test_list_hides_payloads_dry_run_sends_nothing_and_replay_after_the_fix_applies_once(
    kafka, probe, capsys
):
    name, topic, db, broken = probe
    bootstrap = kafka.bootstrap
    first, later = order_placed(), order_placed()
    cancelled = encode(
        wrap(
            OrderCancelled(order_id=first.order_id, customer_id="c1", store_id="s1"),
            producer="order-service",
        )
    )
    # Breaks its schema, and carries a phone number and an address.
    invalid = json.loads(encode(wrap(order_placed(), producer="order-service")))
    invalid["payload"]["total_amount"] = "lots"
    key = first.order_id.encode()  # one partition, so the stream order is well defined

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    sent = {}
    for label, value in [
        ("placed", encode(wrap(first, producer="order-service"))),
        ("cancelled", cancelled),
        ("invalid", json.dumps(invalid).encode()),
        ("malformed", b"{oops " + PHONE.encode()),
        ("later", encode(wrap(later, producer="order-service"))),
    ]:
        sent[label] = await producer.send_and_wait(topic, value, key=key)
    await producer.stop()

    async def parked() -> list[DeadLetter]:
        letters = await read_dead_letters(bootstrap, [name])
        return letters if len(letters) == 3 else []

    letters = await eventually(parked, within=60, what="three parked messages")

    async def went_on() -> bool:
        # `later` is applied after the last message before it is parked: a moment later.
        return {o for o, _ in applied_rows(db)} == {first.order_id, later.order_id}

    await eventually(went_on, within=30, what="the events around the parked ones applied")
    by_origin = {x.origin_offset: x for x in letters}
    for label, error_type in [
        ("cancelled", "RuntimeError"),
        ("invalid", "InvalidEvent"),
        ("malformed", "InvalidEvent"),
    ]:
        letter = by_origin[sent[label].offset]
        assert (letter.origin_topic, letter.origin_partition) == (topic, sent[label].partition)
        assert letter.header("dlq.error_type") == error_type
    bad_cook = by_origin[sent["cancelled"].offset]
    assert bad_cook.event_type == "OrderCancelled" and bad_cook.row()["attempts"] == 3

    # list: one row per parked message, their origins and errors, never a payload.
    code, table = await cli(capsys, "list", "--service", name, "--bootstrap", bootstrap)
    code_json, lines = await cli(
        capsys, "list", "--service", name, "--bootstrap", bootstrap, "--json"
    )
    assert code == code_json == 0
    p = sent["cancelled"].partition
    for label, event_type in [("cancelled", "OrderCancelled"), ("invalid", "OrderPlaced")]:
        row = next(r for r in table.splitlines() if f"{topic}[{p}]@{sent[label].offset}" in r)
        assert name in row and event_type in row
    assert "the cancellation policy is broken" in table
    assert "3 parked message(s)" in table
    rows = [json.loads(line) for line in lines.splitlines()]
    assert sorted(r["origin_offset"] for r in rows) == sorted(
        sent[label].offset for label in ("cancelled", "invalid", "malformed")
    )
    assert {r["event_type"] for r in rows} == {"OrderCancelled", "OrderPlaced", "?"}
    for output in (table, lines):
        assert PHONE not in output and ADDRESS not in output and "lots" not in output

    # replay --dry-run: says what would go, publishes nothing; the malformed one is refused.
    before = await end_offset(bootstrap, topic)
    code, out = await cli(
        capsys, "replay", "--service", name, "--all", "--dry-run", "--bootstrap", bootstrap
    )
    assert code == 0
    verdicts = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert sorted(verdicts[:-1]) == ["refused", "would", "would"], out
    assert await end_offset(bootstrap, topic) == before

    # The fix, then the replay of the broken cancellation by its dead-letter coordinates.
    broken.unlink()
    dlq = dead_letter_topic(name)
    args = ["--partition", str(bad_cook.partition), "--offset", str(bad_cook.offset)]
    code, out = await cli(capsys, "replay", "--service", name, *args, "--bootstrap", bootstrap)
    assert code == 0, out
    where = re.search(rf"-> {re.escape(topic)}\[(\d+)\]@(\d+)", out)
    assert where, out
    again = await record_at(bootstrap, topic, int(where[1]), int(where[2]))
    assert (again.key, again.value) == (key, cancelled)
    headers = dict(again.headers)
    assert headers[REPLAYED_FROM] == f"{dlq}:{bad_cook.partition}:{bad_cook.offset}".encode()
    assert not [h for h in headers if h.startswith("dlq.") and h != REPLAYED_FROM]

    cancellation = f"cancelled:{first.order_id}"

    async def applied() -> bool:
        return any(o == cancellation for o, _ in applied_rows(db))

    await eventually(applied, within=30, what="the replayed cancellation applied")

    # Replayed once more: the probe's inbox knows the event id, so nothing is applied twice.
    code, out = await cli(capsys, "replay", "--service", name, *args, "--bootstrap", bootstrap)
    where = re.search(rf"-> {re.escape(topic)}\[(\d+)\]@(\d+)", out)
    assert code == 0 and where, out

    async def consumed() -> bool:
        return await committed(bootstrap, name, topic, int(where[1])) > int(where[2])

    await eventually(consumed, within=30, what="the probe to consume the second replay")
    assert [o for o, _ in applied_rows(db)].count(cancellation) == 1
    assert len(await read_dead_letters(bootstrap, [name])) == 3  # neither replay was parked

    # Refused on its own: a message that is no envelope cannot be deduplicated.
    malformed = by_origin[sent["malformed"].offset]
    args = ["--partition", str(malformed.partition), "--offset", str(malformed.offset)]
    code, out = await cli(capsys, "replay", "--service", name, *args, "--bootstrap", bootstrap)
    assert code == 1 and "refused" in out


def test_a_database_error_is_listed_without_its_sql_parameters():
    # Database errors quote their bound parameters, which may be a phone or an address.
    error = (
        "IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed\n"
        f"[SQL: INSERT INTO contacts VALUES (?, ?)] [parameters: ('o1', '{PHONE}')]"
    )
    letter = DeadLetter(
        service="mypage-service",
        topic=dead_letter_topic("mypage-service"),
        partition=1,
        offset=7,
        key=b"o1",
        value=encode(wrap(order_placed(), producer="order-service")),
        headers=(
            ("event_type", b"OrderPlaced"),
            ("dlq.origin_topic", b"fooddelivery.order.events"),
            ("dlq.origin_partition", b"2"),
            ("dlq.origin_offset", b"40"),
            ("dlq.error_type", b"IntegrityError"),
            ("dlq.error", error.encode()),
        ),
    )
    out = table([letter]) + json.dumps(letter.row())
    assert "UNIQUE constraint failed" in out
    assert "fooddelivery.order.events[2]@40" in out
    assert PHONE not in out and ADDRESS not in out and "[SQL" not in out
