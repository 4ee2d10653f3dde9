"""A write that lost the optimistic version check is one ConcurrentChange, raised by
the unit of work's commit (whichever of its rows lost it), and the retry helper
decides the command again on fresh state. SQLite file, no broker.

The engine is a plain one: the services' SQLite engine begins every transaction
IMMEDIATE, which serialises them, so a version check can only be lost on
PostgreSQL there. Here reads take no lock, so a rival can commit in between."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.db import session_factory
from service_kit.kernel import Aggregate, ConcurrentChange, Conflict
from service_kit.repository import RowRepository
from service_kit.retry import ATTEMPTS, decided_again_when_stale
from service_kit.tables import plumbing_metadata
from service_kit.uow import SqlAlchemyUnitOfWork

metadata = MetaData()
counters = Table(
    "counters",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)


class Counter(Aggregate):
    def __init__(self, name: str, value: int = 0) -> None:
        super().__init__()
        self.name = name
        self.value = value


class Counters(RowRepository[Counter]):
    entity = Counter
    table = counters


class CounterUnitOfWork(SqlAlchemyUnitOfWork):
    counters: Counters


@pytest.fixture
async def sessions(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'stale.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(plumbing_metadata.create_all)
    made = session_factory(engine)
    async with made() as session:
        await session.execute(insert(counters).values(name="c", value=0, version=1))
        await session.commit()
    yield made
    await engine.dispose()


def uow(sessions) -> CounterUnitOfWork:
    return CounterUnitOfWork(sessions, producer="test")


async def bump_behind_our_back(sessions) -> None:
    async with uow(sessions) as other:
        counter = await other.counters.get("c")
        counter.value += 100
        await other.commit()


async def value(sessions) -> int:
    async with sessions() as session:
        return (await session.execute(select(counters.c.value))).scalar_one()


async def test_a_commit_that_lost_the_version_check_is_a_concurrent_change(sessions):
    with pytest.raises(ConcurrentChange) as raised:
        async with uow(sessions) as mine:
            counter = await mine.counters.get("c")
            await bump_behind_our_back(sessions)
            counter.value += 1
            await mine.commit()

    assert isinstance(raised.value, Conflict)  # so the edge answers 409
    assert await value(sessions) == 100


async def test_a_commit_with_new_rows_beside_the_stale_one_is_the_same_change(sessions):
    with pytest.raises(ConcurrentChange):
        async with uow(sessions) as mine:
            mine.counters.add(Counter("d", 1))  # inserted before the stale update
            counter = await mine.counters.get("c")
            await bump_behind_our_back(sessions)
            counter.value += 1
            await mine.commit()

    assert await value(sessions) == 100
    async with sessions() as session:  # nothing of the lost unit of work stays
        assert (await session.execute(select(counters.c.name))).scalars().all() == ["c"]


async def test_a_command_that_lost_the_race_is_decided_again_on_fresh_state(sessions):
    seen: list[int] = []

    @decided_again_when_stale
    async def add_one(unit: CounterUnitOfWork) -> int:
        async with unit:
            counter = await unit.counters.get("c")
            seen.append(counter.value)
            if len(seen) == 1:
                await bump_behind_our_back(sessions)  # the rival commits first, once
            counter.value += 1
            await unit.commit()
            return counter.value

    assert await add_one(uow(sessions)) == 101
    assert seen == [0, 100]  # the second decision read the rival's write


async def test_a_command_that_keeps_losing_gives_up_with_the_conflict(sessions):
    calls = 0

    @decided_again_when_stale
    async def always_loses(unit: CounterUnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise ConcurrentChange()

    with pytest.raises(ConcurrentChange):
        await always_loses(uow(sessions))
    assert calls == ATTEMPTS


async def test_other_failures_are_not_retried(sessions):
    calls = 0

    @decided_again_when_stale
    async def refused(unit: CounterUnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise Conflict("not in a state to do that", current_state="DONE")

    with pytest.raises(Conflict):
        await refused(uow(sessions))
    assert calls == 1
