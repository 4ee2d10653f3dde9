"""On PostgreSQL a stable view is answered from memory while nothing was written, and
never after a write whose commit returned before the read was asked, whoever wrote:
another engine (another process, replica, the worker, the rebuild tool), a bare
driver connection (a migration, psql), a write through the same `reads`."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service_kit.db import create_engine
from service_kit.reads import Reads, stable
from testkit import PostgresServer

_read: list[int] = []


@stable
def _page(conn, order_id: int) -> int:
    _read.append(order_id)
    return conn.execute(text("SELECT n FROM pages WHERE id = :id"), {"id": order_id}).scalar_one()


def _set(conn, order_id: int, n: int) -> None:
    conn.execute(text("UPDATE pages SET n = :n WHERE id = :id"), {"n": n, "id": order_id})


@pytest.fixture
async def database(postgres: PostgresServer):
    url = postgres.reset("test_service_kit_stable_reads")
    engine, other = create_engine(url), create_engine(url)  # the API's, another process's
    async with other.begin() as conn:
        await conn.execute(text("CREATE TABLE pages (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO pages VALUES (1, 0), (2, 0)"))
    reads = Reads(engine)
    _read.clear()
    yield url, reads, other
    reads.close()
    await engine.dispose()
    await other.dispose()


async def test_a_stable_view_is_read_once_while_nothing_is_written(database):
    _url, reads, _other = database
    assert [await reads(_page, 1) for _ in range(3)] == [0, 0, 0]
    assert await asyncio.gather(*(reads(_page, 1) for _ in range(20))) == [0] * 20
    assert _read == [1]  # the rest from memory


async def test_a_read_asked_after_a_commit_returned_sees_it_whoever_wrote(database):
    url, reads, other = database
    driver = await asyncpg.connect(make_url(url).render_as_string(hide_password=False))
    try:
        for n in range(1, 31):
            assert await reads(_page, 1) == n - 1  # remembered (or read) before the write
            if n % 3 == 0:  # another process's engine
                async with other.begin() as conn:
                    await conn.execute(text("UPDATE pages SET n = :n WHERE id = 1"), {"n": n})
            elif n % 3 == 1:  # a bare connection (a migration, psql), in autocommit
                await driver.execute("UPDATE pages SET n = $1 WHERE id = 1", n)
            else:  # this process's own write (read-your-writes)
                await reads.write(_set, 1, n)
            # Every read asked from here on, one at a time or many at once, sees it.
            assert await reads(_page, 1) == n
            assert await asyncio.gather(*(reads(_page, 1) for _ in range(10))) == [n] * 10
        assert len(_read) < 30 * 12  # and memory still answered most of them
    finally:
        await driver.close()


async def test_reads_in_flight_during_a_commit_never_leave_a_stale_answer_behind(database):
    _url, reads, other = database
    for n in range(1, 21):
        # Reads racing the commit may see either value; once it returned, only the new.
        racing = asyncio.gather(*(reads(_page, 2) for _ in range(10)))
        async with other.begin() as conn:
            await conn.execute(text("UPDATE pages SET n = :n WHERE id = 2"), {"n": n})
        assert set(await racing) <= {n - 1, n}
        assert await asyncio.gather(*(reads(_page, 2) for _ in range(10))) == [n] * 10
