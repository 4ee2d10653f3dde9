"""A worker's units of work on a SQLite file run their statements on the event loop's
thread (db.inline_sessions): the same transaction as through aiosqlite, with no thread
hand-off per statement. A batch commits with its inbox rows, a redelivery applies
nothing, a failing batch leaves nothing behind."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, select

from service_kit.db import create_engine, inline_sessions, sqlite_file_engine
from service_kit.kernel import Aggregate, EventMeta
from service_kit.mapping import version_column
from service_kit.messagebus import MessageBus
from service_kit.repository import RowRepository
from service_kit.tables import inbox, plumbing_metadata
from service_kit.uow import SqlAlchemyUnitOfWork
from shared_events import wrap
from shared_events.contract import OrderAccepted

metadata = MetaData()
tallies = Table(
    "tallies",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("accepted", Integer, nullable=False),
    version_column(),
)


class Tally(Aggregate):
    def __init__(self, order_id: str) -> None:
        super().__init__()
        self.order_id = order_id
        self.accepted = 0


class Tallies(RowRepository[Tally]):
    entity = Tally
    table = tallies


class TallyUnitOfWork(SqlAlchemyUnitOfWork):
    tallies: Tallies


class Broken(Exception):
    pass


def counting_bus(sync, *, fail_on: str | None = None) -> MessageBus[TallyUnitOfWork]:
    sessions = inline_sessions(sync)

    async def accepted(event: OrderAccepted, meta: EventMeta, uow: TallyUnitOfWork) -> None:
        if event.order_id == fail_on:
            raise Broken()
        tally = await uow.tallies.get(event.order_id) or Tally(event.order_id)
        tally.accepted += 1
        uow.tallies.add(tally)

    return MessageBus(
        lambda trace: TallyUnitOfWork(sessions, producer="test", trace=trace),
        commands={},
        policies={OrderAccepted: accepted},
    )


@pytest.fixture
async def sync(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(plumbing_metadata.create_all)
        await conn.run_sync(metadata.create_all)
    file = sqlite_file_engine(engine, pool_size=1)
    assert file is not None
    yield file
    file.dispose()
    await engine.dispose()


def envelopes(*order_ids: str):
    wrapped = [wrap(OrderAccepted(order_id=o, store_id="s1"), producer="s") for o in order_ids]
    return [(envelope, envelope.event()) for envelope in wrapped]


def rows(sync):
    with sync.connect() as conn:
        done = dict(conn.execute(select(tallies.c.order_id, tallies.c.accepted)).all())
        return done, conn.scalar(select(func.count()).select_from(inbox))


async def test_a_batch_commits_with_its_inbox_rows_on_the_loops_thread(sync):
    threads: set[int] = set()
    event.listen(sync, "before_cursor_execute", lambda *args: threads.add(threading.get_ident()))
    batch = envelopes("o1", "o2", "o1")
    assert await counting_bus(sync).handle_batch(batch) == [True, True, True]
    assert rows(sync) == ({"o1": 2, "o2": 1}, 3)
    assert threads == {threading.get_ident()}  # no hand-off to another thread


async def test_a_redelivered_batch_applies_nothing(sync):
    batch = envelopes("o1", "o2")
    await counting_bus(sync).handle_batch(batch)
    assert await counting_bus(sync).handle_batch(batch) == [False, False]
    assert rows(sync) == ({"o1": 1, "o2": 1}, 2)


async def test_a_failing_batch_leaves_nothing_behind(sync):
    with pytest.raises(Broken):
        await counting_bus(sync, fail_on="o2").handle_batch(envelopes("o1", "o2"))
    assert rows(sync) == ({}, 0)


async def test_a_lone_event_claims_its_inbox_row_once(sync):
    [(envelope, event)] = envelopes("o3")
    assert await counting_bus(sync).handle_event(envelope, event) is True
    assert await counting_bus(sync).handle_event(envelope, event) is False
    assert rows(sync) == ({"o3": 1}, 1)
