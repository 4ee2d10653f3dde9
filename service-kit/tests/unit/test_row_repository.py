"""RowRepository (service_kit.repository): aggregates on Core, each row written only
at the version it was read at. SQLite file, no broker; a plain engine (reads take
no lock, so a rival can commit in between, as on PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.db import session_factory
from service_kit.kernel import Aggregate, ConcurrentChange
from service_kit.repository import RowRepository
from service_kit.retry import decided_again_when_stale
from service_kit.tables import outbox, plumbing_metadata
from service_kit.uow import SqlAlchemyUnitOfWork
from shared_events.contract import MenuItemChanged

metadata = MetaData()
tallies = Table(
    "tallies",
    metadata,
    Column("shop", String(16), primary_key=True),
    Column("name", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("place_line", String(32), nullable=False),
    Column("place_region", String(16), nullable=False),
    Column("version", Integer, nullable=False),
)


@dataclass(frozen=True)
class Place:
    line: str
    region: str


@dataclass(eq=False)
class Tally(Aggregate):
    shop: str
    name: str
    place: Place
    count: int = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.count = 0
        self.bump()  # a new tally is news: never raised again by a load

    def bump(self) -> None:
        self.count += 1
        self.record(
            MenuItemChanged(
                store_id=self.shop,
                menu_item_id=self.name,
                name=self.name,
                price=1,
                stock=self.count,
                available=True,
                revision=self.count,
            )
        )


class Tallies(RowRepository[Tally]):
    entity = Tally
    table = tallies
    composites = {"place": (Place, ("place_line", "place_region"))}


marks = Table(
    "marks",
    metadata,
    Column("mark_id", String(16), primary_key=True),
    Column("label", String(16), nullable=False),
    Column("version", Integer, nullable=False),
)


@dataclass(eq=False)
class Mark(Aggregate):
    mark_id: str
    label: str


class Marks(RowRepository[Mark]):
    entity = Mark
    table = marks


class TallyUnitOfWork(SqlAlchemyUnitOfWork):
    tallies: Tallies
    marks: Marks


@pytest.fixture
async def sessions(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'rows.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(plumbing_metadata.create_all)
    made = session_factory(engine)
    async with TallyUnitOfWork(made, producer="test") as unit:
        unit.tallies.add(Tally("s1", "t", Place("12 Teheran-ro", "gangnam")))
        await unit.commit()
    yield made
    await engine.dispose()


def uow(sessions) -> TallyUnitOfWork:
    return TallyUnitOfWork(sessions, producer="test")


async def rows(sessions, *columns):
    async with sessions() as session:
        return (await session.execute(select(*columns))).all()


async def bump_behind_our_back(sessions) -> None:
    async with uow(sessions) as other:
        (await other.tallies.get("s1", "t")).bump()
        await other.commit()


async def test_a_new_row_is_inserted_at_version_one_with_its_outbox_row(sessions):
    assert await rows(sessions, tallies) == [("s1", "t", 1, "12 Teheran-ro", "gangnam", 1)]
    assert len(await rows(sessions, outbox.c.id)) == 1


async def test_a_loaded_aggregate_is_as_stored_and_one_object_per_key(sessions):
    async with uow(sessions) as unit:
        tally = await unit.tallies.get("s1", "t")
        assert tally is await unit.tallies.get("s1", "t")
        assert (tally.count, tally.place) == (1, Place("12 Teheran-ro", "gangnam"))
        assert tally.pull_events() == []  # loading raises nothing
        assert await unit.tallies.get("s1", "nope") is None


async def test_a_change_is_written_at_the_next_version_and_an_unchanged_row_not_at_all(sessions):
    async with uow(sessions) as unit:
        await unit.tallies.get("s1", "t")
        await unit.commit()
    assert await rows(sessions, tallies.c.count, tallies.c.version) == [(1, 1)]

    async with uow(sessions) as unit:
        (await unit.tallies.get("s1", "t")).bump()
        await unit.commit()
    assert await rows(sessions, tallies.c.count, tallies.c.version) == [(2, 2)]
    assert len(await rows(sessions, outbox.c.id)) == 2


async def test_a_write_that_lost_the_version_check_is_a_concurrent_change(sessions):
    with pytest.raises(ConcurrentChange):
        async with uow(sessions) as mine:
            tally = await mine.tallies.get("s1", "t")
            await bump_behind_our_back(sessions)
            tally.bump()
            await mine.commit()

    assert await rows(sessions, tallies.c.count, tallies.c.version) == [(2, 2)]
    assert len(await rows(sessions, outbox.c.id)) == 2  # the loser's event never staged


async def test_a_command_that_lost_the_race_is_decided_again_on_fresh_state(sessions):
    seen: list[int] = []

    @decided_again_when_stale
    async def bump(unit: TallyUnitOfWork) -> int:
        async with unit:
            tally = await unit.tallies.get("s1", "t")
            seen.append(tally.count)
            if len(seen) == 1:
                await bump_behind_our_back(sessions)  # the rival commits first, once
            tally.bump()
            await unit.commit()
            return tally.count

    assert await bump(uow(sessions)) == 3
    assert seen == [1, 2]


async def test_load_fetches_many_keys_in_one_go_and_knows_the_missing_ones(sessions):
    async with uow(sessions) as unit:
        unit.marks.add(Mark("a", "one"))
        unit.marks.add(Mark("b", "two"))
        await unit.commit()

    async with uow(sessions) as unit:
        await unit.marks.load(["a", "b", "c"])
        a = await unit.marks.get("a")
        assert (a.mark_id, a.label) == ("a", "one")
        assert await unit.marks.get("c") is None
        a.label = "uno"
        await unit.commit()
    assert await rows(sessions, marks.c.label, marks.c.version) == [("uno", 2), ("two", 1)]
