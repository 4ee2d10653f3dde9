"""The read-model rebuild against a real broker, into SQLite and PostgreSQL.

The events of several orders (every lifecycle the board knows) go onto the three
topics with a plain producer: each topic in its own order, the topics published
backwards (delivery first), some messages twice, one OrderPlaced copied under a
new event id, a message that is not JSON and one mypage does not project. The
rebuild must give, row for row, what the worker's bus gives applying the same
events in causal order, without touching any consumer group, and without owing
any customer a message the live log did not owe.

The broker is the session's: other suites may have published on it, and the
sqlite and postgresql runs both publish, so the checks look at this run's orders.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select, update
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from mypage_service.adapters.notification_carry_over import NOT_SENT
from mypage_service.adapters.notification_log import Outcome, SqlNotificationLog
from mypage_service.adapters.orm import notifications, order_status
from mypage_service.adapters.read_model_diff import compare_read_models
from mypage_service.bootstrap import MIGRATIONS
from mypage_service.entrypoints.rebuild import main, rebuild
from mypage_service.service_layer.dispatcher import DispatchPolicy, notification_loop
from mypage_service.service_layer.messagebus import create_bus
from mypage_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from service_kit.db import create_engine, session_factory
from service_kit.migrations import upgrade
from service_kit.reads import Reads
from shared_events import contract
from shared_events.envelope import Envelope, encode, utcnow
from shared_events.topics import ORDER_EVENTS, STORE_EVENTS

from ..events import LIFECYCLES, T0, envelope
from ..notifiers import FakeNotifier

pytestmark = pytest.mark.kafka


@dataclass
class Published:
    orders: list[str] = field(default_factory=list)
    causal: list[Envelope] = field(default_factory=list)  # what the live worker applies
    messages: int = 0
    duplicates: int = 0
    poison: tuple[str, int, int] = ("", -1, -1)


def retarget(env: Envelope, order_id: str, event_id: uuid.UUID | None = None) -> Envelope:
    """The same event about another order, under a new event id."""
    return env.model_copy(
        update={
            "event_id": event_id or uuid.uuid4(),
            "aggregate_id": order_id,
            "correlation_id": order_id,
            "payload": {**env.payload, "order_id": order_id},
        }
    )


async def publish_orders(bootstrap: str) -> Published:
    tag = uuid.uuid4().hex[:8]
    out = Published()
    topics: tuple[list[Envelope], list[Envelope], list[Envelope]] = ([], [], [])
    for i, (make, _, _) in enumerate(LIFECYCLES.values()):
        order_id = f"rebuild-{tag}-{i}"
        out.orders.append(order_id)
        streams = [[retarget(e, order_id) for e in stream] for stream in make()]
        if i == 0:  # a producer's replay: the same OrderPlaced under a new event id
            streams[0].insert(1, retarget(streams[0][0], order_id))
        for topic, stream in zip(topics, streams, strict=True):
            topic.extend(stream)
        out.causal += sorted((e for s in streams for e in s), key=lambda e: e.occurred_at)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        # Backwards across topics: the rebuild sees DeliveryConfirmed before OrderPlaced.
        for n, env in enumerate([*topics[2], *topics[1], *topics[0]]):
            copies = 2 if n % 3 == 0 else 1  # at-least-once: some arrive twice
            for _ in range(copies):
                await producer.send_and_wait(
                    type(env.event()).topic, encode(env), key=env.aggregate_id.encode()
                )
            out.messages += copies
            out.duplicates += copies - 1
        sent = await producer.send_and_wait(ORDER_EVENTS, b"{not json", key=tag.encode())
        out.poison = (sent.topic, sent.partition, sent.offset)
        menu = contract.MenuItemChanged(
            store_id=f"s-{tag}", menu_item_id="m1", name="Bibimbap", price=9000, stock=3,
            available=True, revision=1,
        )  # fmt: skip
        await producer.send_and_wait(STORE_EVENTS, encode(envelope(menu)), key=tag.encode())
        out.messages += 2
    finally:
        await producer.stop()
    return out


async def apply_live(url: str, envelopes: list[Envelope]) -> None:
    """What the live worker builds: the same bus, the events in causal order."""
    engine = create_engine(url)
    await upgrade(MIGRATIONS, url)
    sessions = session_factory(engine)
    bus = create_bus(lambda trace: SqlAlchemyUnitOfWork(sessions, producer=PRODUCER, trace=trace))
    try:
        for env in envelopes:
            await bus.handle_event(env, env.event())
        # The live dispatcher sent every other message; the rest it still owes.
        log = SqlNotificationLog(reads := Reads(engine))
        pending = await log.due(utcnow(), limit=1000)
        every_other = [row.notification_id for row in pending[::2]]
        await log.finish(Outcome(lease_until=T0, sent=every_other), T0)
        reads.close()
    finally:
        await engine.dispose()


async def notification_rows(url: str, orders: list[str]) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(notifications).where(notifications.c.order_id.in_(orders))
            )
            return {r.notification_id: dict(r._mapping) for r in rows}
    finally:
        await engine.dispose()


async def dispatch_everything(url: str) -> FakeNotifier:
    """What the mypage API's dispatcher would send after the switch."""
    engine = create_engine(url)
    notifier = FakeNotifier()
    reads = Reads(engine)
    dispatcher = notification_loop(SqlNotificationLog(reads), notifier, DispatchPolicy())
    try:
        while await dispatcher.work_off():
            pass
    finally:
        reads.close()
        await engine.dispose()
    return notifier


async def consumer_groups(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # A fresh broker loads its group coordinator on the first ask.
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:
                return {group[0] for group in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    raise AssertionError("unreachable")


@pytest.fixture
def live_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"


async def test_the_rebuild_equals_the_live_read_model_and_owes_only_what_live_owes(
    kafka, database_url, live_url
):
    published = await publish_orders(kafka.bootstrap)
    await apply_live(live_url, published.causal)
    live_log = await notification_rows(live_url, published.orders)
    owed = {i for i, row in live_log.items() if row["state"] == "PENDING"}
    assert owed and len(owed) < len(live_log)  # both kinds are carried over
    groups = await consumer_groups(kafka.bootstrap)

    done = await rebuild(database_url, kafka.bootstrap, live_url=live_url, progress=False)

    comparison = await compare_read_models(live_url, database_url, order_ids=published.orders)
    assert comparison.identical, str(comparison)
    assert comparison.orders == len(published.orders) == len(LIFECYCLES)

    counts = done.counts
    assert counts.read >= published.messages
    assert counts.read == counts.applied + counts.duplicates + counts.skipped + counts.problems
    # The broker's copies plus the replayed OrderPlaced (same order, new id: applied).
    assert counts.duplicates >= published.duplicates
    assert counts.skipped >= 1  # MenuItemChanged
    [poison] = [p for p in done.problems if (p.topic, p.partition, p.offset) == published.poison]
    assert poison.error.startswith("InvalidEvent: message is not JSON")
    assert counts.problems == len(done.problems)

    # The notification log is the live one, row for row, plus what only the replay's
    # interleaving decided (a status the live worker saw overtaken), never sent.
    rebuilt_log = await notification_rows(database_url, published.orders)
    assert {i: rebuilt_log.get(i) for i in live_log} == live_log
    extra = [row for i, row in rebuilt_log.items() if i not in live_log]
    assert all(r["state"] == "SENT" and r["last_error"] == NOT_SENT for r in extra)
    notifier = await dispatch_everything(database_url)
    assert {m.notification_id for m in notifier.delivered} == owed
    assert done.notifications.copied >= len(live_log)

    # A plain consumer: no consumer group was made or moved.
    assert await consumer_groups(kafka.bootstrap) == groups


async def test_without_a_live_log_every_replayed_message_is_marked_sent(kafka, tmp_path):
    published = await publish_orders(kafka.bootstrap)
    target = f"sqlite+aiosqlite:///{tmp_path / 'rebuilt.db'}"

    done = await rebuild(target, kafka.bootstrap, live_url=None, progress=False)

    rows = list((await notification_rows(target, published.orders)).values())
    assert rows  # the replay decided messages ...
    assert all(r["state"] == "SENT" and r["last_error"] == NOT_SENT for r in rows)
    assert all(r["sent_at"] is None for r in rows)  # ... and none went anywhere
    assert done.notifications.silenced >= len(rows) and done.notifications.copied == 0
    assert (await dispatch_everything(target)).delivered == []


def test_the_command_refuses_a_used_target_reports_and_verifies(
    kafka, tmp_path, monkeypatch, capsys
):
    published = asyncio.run(publish_orders(kafka.bootstrap))
    first, second = (f"sqlite+aiosqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    common = ["--bootstrap", kafka.bootstrap, "--no-progress", "--no-live-log"]

    assert main(["--database-url", first, *common]) == 0
    out = capsys.readouterr().out
    assert "messages read" in out and "problems" in out
    assert f"DATABASE_URL={first}" in out

    assert main(["--database-url", first, *common]) == 2  # it holds rows now
    assert "not empty" in capsys.readouterr().err
    live = ["--bootstrap", kafka.bootstrap, "--no-progress", "--live-url", first]
    assert main(["--database-url", first, *live, "--force"]) == 2  # never the live one
    assert "live database" in capsys.readouterr().err

    assert main(["--database-url", second, *common, "--verify-against", first]) == 0
    assert "verify: identical" in capsys.readouterr().out

    async def tamper() -> None:
        engine = create_engine(second)
        async with engine.begin() as conn:
            await conn.execute(
                update(order_status)
                .where(order_status.c.order_id == published.orders[0])
                .values(status="PICKED")
            )
        await engine.dispose()

    asyncio.run(tamper())
    # --force replays into it again (all duplicates), and the tampered row stays.
    assert main(["--database-url", second, *common, "--force", "--verify-against", first]) == 1
    out = capsys.readouterr().out
    assert f"order {published.orders[0]}: status 'PICKED' != 'DELIVERED'" in out
    assert "1 differences" in out


def test_by_default_it_builds_a_new_file_next_to_the_live_one(kafka, tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("FOODDELIVERY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)

    assert main(["--no-progress"]) == 0

    [made] = tmp_path.glob("mypage-service.rebuild-*.db")
    assert not (tmp_path / "mypage-service.db").exists()  # the live file is left alone
    assert made.stat().st_size > 0
