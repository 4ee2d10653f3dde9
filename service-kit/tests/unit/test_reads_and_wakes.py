"""SQLite readers (sessions and views through Reads) never queue behind a writer; a
worker's commit wakes the API's relay, and names the keys it changed to the API's
live views."""

import asyncio
import socket

import pytest
from sqlalchemy import text

from service_kit.db import create_engine, read_only, session_factory
from service_kit.reads import Reads, stable
from service_kit.wake import KEYS_PER_WAKE, UdpWake, WakeSender, key_chunks, listen, relay_wake


async def test_a_read_goes_on_while_a_writer_holds_the_lock(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    writes, reads = session_factory(engine), session_factory(read_only(engine))
    try:
        async with writes() as writer, writer.begin():
            await writer.execute(text("UPDATE t SET n = 2"))  # BEGIN IMMEDIATE: the lock held
            async with reads() as reader:
                # Deferred: answers from its snapshot at once (the busy timeout is 30 s).
                found = await asyncio.wait_for(reader.execute(text("SELECT n FROM t")), 5)
                assert found.scalar_one() == 1
        async with reads() as reader:
            assert (await reader.execute(text("SELECT n FROM t"))).scalar_one() == 2
    finally:
        await engine.dispose()


def _n(conn, table: str) -> int:  # a view: a function of a Core connection
    return conn.execute(text(f"SELECT n FROM {table}")).scalar_one()


async def _one_row(url: str):
    """An engine on `url` whose table t holds n = 1."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    return engine


async def test_a_view_read_through_reads_goes_on_while_a_writer_holds_the_lock(tmp_path):
    engine = await _one_row(f"sqlite+aiosqlite:///{tmp_path / 'views.db'}")
    reads = Reads(engine)
    try:
        async with session_factory(engine)() as writer, writer.begin():
            await writer.execute(text("UPDATE t SET n = 2"))  # BEGIN IMMEDIATE: the lock held
            assert await asyncio.wait_for(reads(_n, "t"), 5) == 1  # its snapshot, at once
        assert await reads(_n, "t") == 2  # the commit is seen by the next read
    finally:
        reads.close()
        await engine.dispose()


async def test_reads_on_an_in_memory_database_go_through_its_one_connection():
    engine = create_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (7)"))
    reads = Reads(engine)
    try:
        assert await reads(_n, "t") == 7
    finally:
        reads.close()
        await engine.dispose()


_stable_reads: list[str] = []


@stable
def _stable_n(conn, table: str) -> int:
    _stable_reads.append(table)
    return _n(conn, table)


@stable
def _stable_count(conn, tables: list[str]) -> int:
    return len(tables)


async def test_a_stable_view_is_read_again_only_once_something_committed(tmp_path):
    engine = await _one_row(f"sqlite+aiosqlite:///{tmp_path / 'stable.db'}")
    reads = Reads(engine)
    _stable_reads.clear()
    try:
        assert [await reads(_stable_n, "t") for _ in range(3)] == [1, 1, 1]
        assert len(_stable_reads) == 1  # answered from memory twice
        assert [await reads(_n, "t") for _ in range(2)] == [1, 1]  # not stable: always read

        async with engine.begin() as conn:  # another connection commits
            await conn.execute(text("UPDATE t SET n = 2"))
        assert await reads(_stable_n, "t") == 2
        await reads.write(_set, "t", 3)  # and so does a write through reads
        assert await reads(_stable_n, "t") == 3
        assert len(_stable_reads) == 3
        assert await reads(_stable_count, ["t"]) == 1  # an argument no key can hold: read
    finally:
        reads.close()
        await engine.dispose()


def _set(conn, table: str, n: int) -> int:  # a small write: a function of a Core connection
    conn.execute(text(f"UPDATE {table} SET n = :n"), {"n": n})
    if n < 0:
        raise ValueError("no negatives")
    return n


async def test_a_write_through_reads_commits_whole_or_not_at_all(tmp_path):
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'writes.db'}", "sqlite+aiosqlite://"):
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        reads = Reads(engine)
        try:
            assert await reads.write(_set, "t", 3) == 3
            assert await reads(_n, "t") == 3  # committed
            with pytest.raises(ValueError):
                await reads.write(_set, "t", -1)
            assert await reads(_n, "t") == 3  # the failing one rolled back
        finally:
            reads.close()
            await engine.dispose()


async def test_a_write_through_reads_waits_for_another_writer_without_blocking_the_loop(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
    reads = Reads(engine)
    try:
        assert await reads.write(_set, "t", 2) == 2  # the file free: inline
        async with session_factory(engine)() as writer, writer.begin():
            await writer.execute(text("UPDATE t SET n = 5"))  # BEGIN IMMEDIATE: the lock held
            waiting = asyncio.ensure_future(reads.write(_set, "t", 3))
            # The loop goes on (this read answers) while the write waits on a thread.
            assert await asyncio.wait_for(reads(_n, "t"), 5) == 2
            assert not waiting.done()
        assert await asyncio.wait_for(waiting, 30) == 3  # its turn came after the commit
        assert await reads(_n, "t") == 3
        assert await reads.write(_set, "t", 4) == 4  # and inline again
    finally:
        reads.close()
        await engine.dispose()


async def test_a_wake_datagram_reaches_the_listener():
    woken = asyncio.Event()
    transport = await listen(("127.0.0.1", 0), woken.set)
    port = transport.get_extra_info("sockname")[1]
    send = WakeSender(("127.0.0.1", port))
    try:
        send()
        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        send.close()
        transport.close()


def test_a_wake_nobody_listens_to_is_no_error():
    send = WakeSender(("127.0.0.1", 9))  # discard port: nothing listens
    send()
    send()
    send.close()


async def test_on_sqlite_the_wake_is_a_datagram_after_the_commit(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # a free UDP port for the relay's side
    wake = relay_wake(f"sqlite:///{tmp_path / 'x.db'}", "order-service", "127.0.0.1", port)
    assert isinstance(wake, UdpWake)
    woken = asyncio.Event()
    stop = await wake.listen(woken.set)
    try:
        wake.committed()
        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        wake.close()
        await stop()


async def test_a_relay_whose_wake_port_is_taken_still_starts(caplog):
    # Another process on this host holds the UDP port (a second system, a test run):
    # the relay cannot listen, says so, and falls back on its poll.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        wake = UdpWake(("127.0.0.1", holder.getsockname()[1]))
        stop = await wake.listen(lambda: None)
        await stop()
    assert "not listening" in caplog.text


async def test_a_change_wake_names_its_keys_and_is_not_a_relay_wake():
    relay_woken, all_heard = asyncio.Event(), asyncio.Event()
    heard: list[str] = []
    many = [f"order-{n:03}" for n in range(KEYS_PER_WAKE * 2 + 1)]  # three datagrams

    def changed(keys: list[str]) -> None:
        heard.extend(keys)
        if sorted(heard) == many:
            all_heard.set()

    transport = await listen(("127.0.0.1", 0), relay_woken.set, changed)
    wake = UdpWake(("127.0.0.1", transport.get_extra_info("sockname")[1]))
    try:
        wake.changed(many)
        await asyncio.wait_for(all_heard.wait(), timeout=10)
        assert not relay_woken.is_set()
    finally:
        wake.close()
        transport.close()


def test_keys_go_in_chunks_that_fit_a_datagram_and_a_notify_payload():
    keys = {f"{n:036}" for n in range(KEYS_PER_WAKE + 3)}  # uuid-sized ids
    chunks = list(key_chunks(keys))
    assert [len(c.split(",")) for c in chunks] == [KEYS_PER_WAKE, 3]
    assert {k for c in chunks for k in c.split(",")} == keys
    assert all(len(c.encode()) < 1200 for c in chunks)
    assert list(key_chunks([])) == []


async def test_a_listener_without_a_change_callback_ignores_change_wakes():
    woken = asyncio.Event()
    transport = await listen(("127.0.0.1", 0), woken.set)
    wake = UdpWake(("127.0.0.1", transport.get_extra_info("sockname")[1]))
    try:
        wake.changed(["order-1"])
        wake.committed()  # sent after, so heard after: the change was dropped quietly
        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        wake.close()
        transport.close()
