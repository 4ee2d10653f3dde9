"""An API's units of work on a SQLite file run inline, in turns (db.serial_sessions):
many requests in flight each commit whole, a stale write is still one ConcurrentChange,
and waiting for another process's writer never blocks the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from service_kit import db
from service_kit.db import create_engine, serial_sessions
from service_kit.kernel import Aggregate, ConcurrentChange
from service_kit.mapping import version_column
from service_kit.repository import RowRepository
from service_kit.tables import outbox, plumbing_metadata
from service_kit.uow import SqlAlchemyUnitOfWork
from shared_events.contract import OrderAccepted

metadata = MetaData()
counters = Table(
    "counters",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("value", Integer, nullable=False),
    version_column(),
)


class Counter(Aggregate):
    def __init__(self, order_id: str) -> None:
        super().__init__()
        self.order_id = order_id
        self.value = 0


class Counters(RowRepository[Counter]):
    entity = Counter
    table = counters


class CounterUnitOfWork(SqlAlchemyUnitOfWork):
    counters: Counters


@asynccontextmanager
async def serial_file(path: Path) -> AsyncIterator[tuple[Path, Any, Any]]:
    """A SQLite file with the tables, and its serial sessions and engine."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(plumbing_metadata.create_all)
        await conn.run_sync(metadata.create_all)
    serial = serial_sessions(engine)
    assert serial is not None
    sessions, sync = serial
    try:
        yield path, sessions, sync
    finally:
        sync.dispose()
        await engine.dispose()


@pytest.fixture
async def file(tmp_path):
    async with serial_file(tmp_path / "api.db") as opened:
        yield opened


def unit(sessions) -> CounterUnitOfWork:
    return CounterUnitOfWork(sessions, producer="test")


async def bump(sessions, order_id: str) -> None:
    """Read, change, commit with an outbox row: retried on a lost version check."""
    while True:
        try:
            async with unit(sessions) as uow:
                counter = await uow.counters.get(order_id) or Counter(order_id)
                counter.value += 1
                uow.counters.add(counter)
                counter.record(OrderAccepted(order_id=order_id, store_id="s1"))
                await uow.commit()
                return
        except ConcurrentChange:
            continue


def stored(sync) -> tuple[dict[str, int], int]:
    with sync.connect() as conn:
        values = dict(conn.execute(select(counters.c.order_id, counters.c.value)).all())
        return values, len(conn.execute(select(outbox.c.id)).all())


async def test_units_of_work_in_flight_together_each_commit_whole(file):
    _, sessions, sync = file
    await asyncio.gather(*(bump(sessions, f"o{i % 3}") for i in range(30)))
    assert stored(sync) == ({"o0": 10, "o1": 10, "o2": 10}, 30)


async def test_a_stale_write_is_one_concurrent_change(file):
    _, sessions, sync = file
    await bump(sessions, "o1")
    async with unit(sessions) as stale:
        counter = await stale.counters.get("o1")
        assert counter is not None
        await stale.session.commit()  # ends its read; the row is changed meanwhile
        await bump(sessions, "o1")
        counter.value += 10
        with pytest.raises(ConcurrentChange):
            await stale.commit()
    assert stored(sync) == ({"o1": 2}, 2)


async def test_a_failed_unit_of_work_lets_the_next_one_in(file):
    _, sessions, sync = file
    with pytest.raises(RuntimeError):
        async with unit(sessions) as uow:
            uow.counters.add(Counter("o1"))
            await uow.counters.save()  # written in its transaction, then it fails
            raise RuntimeError("the handler failed")
    await bump(sessions, "o2")
    assert stored(sync) == ({"o2": 1}, 1)


async def test_another_processs_writer_is_waited_for_off_the_loop(file):
    path, sessions, sync = file
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    writing = asyncio.create_task(bump(sessions, "o1"))
    ticks = 0
    while ticks < 20:  # the loop keeps running while the unit of work waits
        await asyncio.sleep(0)
        ticks += 1
    assert not writing.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writing, timeout=30)
    assert stored(sync) == ({"o1": 1}, 1)


async def wal_after(path, sessions, commits: int) -> int:
    for i in range(commits):
        await bump(sessions, f"o{i}")
    return path.with_name(path.name + "-wal").stat().st_size


async def test_the_wal_is_checkpointed_though_no_commit_checkpoints_itself(
    file, tmp_path, monkeypatch
):
    path, sessions, sync = file
    with sync.connect() as conn:  # the serial connections never checkpoint in a commit
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    commits = 3 * db.CHECKPOINT_EVERY
    wal = await wal_after(path, sessions, commits)
    assert stored(sync)[1] == commits

    # The same commits on a file never checkpointed: the WAL holds them all.
    monkeypatch.setattr(db, "CHECKPOINT_EVERY", db.CHECKPOINT_EVERY * 1000)
    async with serial_file(tmp_path / "never.db") as (never, never_sessions, _):
        unbounded = await wal_after(never, never_sessions, commits)
    # Checkpointed every round, the WAL restarts: it holds about a round, not three.
    assert wal < unbounded / 2
