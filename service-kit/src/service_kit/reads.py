"""The read side's transactions: a view is a plain function of a SQLAlchemy Core
`Connection`, and `await reads(view, *args)` runs it whole in one read-only
transaction.

Why not an `AsyncSession` per read: on SQLite every statement (its BEGIN, cursor,
execute, fetch, close and the final rollback) is a separate hop to the aiosqlite
thread and back, a dozen per status page, and the ORM session around them costs
more than the query. Here a read on SQLite is no hop at all: the view runs on the
event loop's thread on the `sqlite3` connection it keeps, in a deferred transaction (WAL
gives it a snapshot, so it never waits for a writer and never holds one up). On PostgreSQL
the same view runs through the async engine's connection (`run_sync`), so both
databases read through the same code.

A view marked `@stable` is answered again from memory while the database has not
changed since it was read: on SQLite while `PRAGMA data_version` stands still, on
PostgreSQL while the server's snapshot does (`Snapshots`, one round trip shared by the
requests that arrived while the one before it was out).

`await reads.write(change, *args)` is the same for a background loop's small write (a
claim, a mark): `change(connection, *args)` runs whole in one transaction of its own,
committed (on SQLite `BEGIN IMMEDIATE`, as every writer, right on the loop's thread
when the file is free, as db.serial_sessions' units of work; on a thread, waiting
there, only when another writer holds the file).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from cachetools import LRUCache
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from service_kit.db import CHECKPOINT_EVERY, read_only, sqlite_file_engine

P = ParamSpec("P")
T = TypeVar("T")
View = Callable[Concatenate[Connection, P], T]

# Reads at once on SQLite. Each holds the GIL but while SQLite steps, so a few
# threads are enough to keep the event loop and the database both busy.
SQLITE_READERS = 4
REMEMBERED = 1024  # stable answers kept per reading thread (SQLite), per process (PostgreSQL)

_STABLE: set[Callable[..., object]] = set()


def stable(view: View[P, T]) -> View[P, T]:
    """Marks a view whose answer is a function of the database alone (no clock, no
    randomness) and that its callers never change. `reads` then gives the same answer
    again, from memory, until anything commits to the database, whoever commits:
    on SQLite until `PRAGMA data_version` moves (every commit by any other
    connection moves it, this process's or another's: a few microseconds where the
    view costs a hundred); on PostgreSQL until the server's snapshot moves
    (`Snapshots`). A status page polled between two changes is read once."""
    _STABLE.add(view)
    return view


_MISSING: Any = object()


class Memory:
    """What the stable views answered, as of one version of the database (SQLite's
    data_version, PostgreSQL's snapshot): a new version forgets them all."""

    def __init__(self) -> None:
        self.version: object = None
        self._answers: LRUCache[tuple[object, ...], Any] = LRUCache(maxsize=REMEMBERED)

    def get(self, version: object, key: tuple[object, ...]) -> Any:
        """The answer remembered for `key` at `version`, else _MISSING."""
        if version != self.version:  # something committed since: all may be stale
            self._answers.clear()
            self.version = version
        try:
            return self._answers.get(key, _MISSING)
        except TypeError:  # an argument that cannot be a key (a list): read it
            return _MISSING

    def put(self, version: object, key: tuple[object, ...], answer: object) -> None:
        """Remember `answer`, read after `version` was seen, unless the database has
        moved on since (a read that was still in flight when a newer version came)."""
        if version == self.version:
            with suppress(TypeError):
                self._answers[key] = answer


# Why the server's snapshot (xmin:xmax:in-progress xids): it moves whenever a
# transaction that wrote anything (it has an xid) ends, in any session of the server:
# the API's, the worker's, another replica's, a migration's, the rebuild tool's; a
# transaction that only read leaves it alone. A write W whose commit returned
# before a GET arrived has left the snapshot's in-progress list (or moved xmax past it)
# by the time the GET's check is taken, so a snapshot equal to the one an answer was
# read after proves nothing was written since: no staleness, and read-your-writes is
# exact across processes, with nothing for writers to do. It costs one round trip per
# check, shared: a request waits for a check *sent* after it arrived (at most the one in
# flight plus the next), and every request that arrived meanwhile takes the same one,
# where a view is a checkout, BEGIN, its statements and ROLLBACK. The alternatives cost
# more or bound less: a version row bumped by triggers serializes every writer on one
# row; pg_stat_database's counters lag by up to a second; a NOTIFY reaches the API some
# time after the writer's commit returned, with no bound. (The snapshot is the whole
# server's: a write to another database on it only costs one read again; deploy/ gives
# each service a server of its own, the bench and the tests share one.)
SNAPSHOT = "SELECT pg_current_snapshot()::text"


class Snapshots:
    """`await snapshots()`: the server's current snapshot, taken after the call began.
    Calls that arrive while a check is out share the next one."""

    def __init__(self, ask: Callable[[], Awaitable[object]]) -> None:
        self._ask = ask
        self._next: asyncio.Future[object] | None = None  # the check not sent yet
        self._asking: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly

    async def __call__(self) -> object:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if self._asking is None:
                self._asking = asyncio.create_task(self._serve())
        # shielded: one caller's cancellation must not cancel the others' check
        return await asyncio.shield(self._next)

    async def _serve(self) -> None:
        try:
            while self._next is not None:
                # Callers from here on wait for the next check: this one may be sent
                # before they arrived.
                waiting, self._next = self._next, None
                try:
                    snapshot = await self._ask()
                except Exception as exc:  # each caller sees it (the database is down)
                    waiting.set_exception(exc)
                    waiting.exception()  # retrieved: a caller may be gone
                else:
                    waiting.set_result(snapshot)
        finally:
            self._asking = None


class Reads:
    """`await reads(view, *args)`: `view(connection, *args)` in a read-only transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = read_only(engine)
        self._writer = engine
        self._one_statement = engine  # write_one's
        if engine.dialect.name == "postgresql":
            # At READ COMMITTED each statement reads its own snapshot, in a transaction
            # or not: a view's BEGIN and ROLLBACK were two round trips buying nothing.
            self._engine = self._engine.execution_options(isolation_level="AUTOCOMMIT")
            self._one_statement = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sqlite: Engine | None = None
        self._sqlite_writer: Engine | None = None
        self._threads: ThreadPoolExecutor | None = None
        # Each thread that reads keeps one connection (_kept): the loop's, in practice.
        self._local = threading.local()
        self._open: list[Connection] = []
        self._writing: Connection | None = None  # the loop's writer (_commit_now)
        self._commits = 0  # through it, counted for the checkpoints
        self._lock = threading.Lock()
        self._memory = Memory()  # the stable views' answers, on PostgreSQL (the loop's)
        self._snapshots = Snapshots(self._snapshot)
        # The same file through the standard library's driver, synchronously: writes
        # in threads, reads on the reading thread with no engine events (_run begins).
        # One more than the threads: the loop keeps one to write through (_commit_now).
        self._sqlite_writer = sqlite_file_engine(engine, pool_size=SQLITE_READERS + 1)
        if self._sqlite_writer is not None:
            self._sqlite = sqlite_file_engine(engine, pool_size=SQLITE_READERS, begin=False)
            self._threads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="reads")

    async def __call__(self, view: View[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._sqlite is not None:
            # Right on the loop's thread: a view is a few indexed statements in a
            # deferred transaction that never waits for a writer (WAL), so the hop to
            # a thread and back (submit, GIL hand-over, waking the loop) cost more CPU
            # than the read itself.
            return self._run(view, args, kwargs)
        if view not in _STABLE or kwargs:
            return await self._read_async(view, args, kwargs)
        snapshot = await self._snapshots()  # taken after this request arrived
        key = (view, *args)
        found = self._memory.get(snapshot, key)
        if found is not _MISSING:
            return cast(T, found)
        answer = await self._read_async(view, args, kwargs)  # as of snapshot, or later
        self._memory.put(snapshot, key, answer)
        return answer

    async def _read_async(
        self, view: View[P, T], args: tuple[object, ...], kwargs: dict[str, object]
    ) -> T:
        async with self._engine.connect() as conn:  # its rollback ends the transaction
            return await conn.run_sync(view, *args, **kwargs)  # type: ignore[arg-type]

    async def _snapshot(self) -> object:
        """PostgreSQL's current snapshot, in a statement of its own (no BEGIN: a
        pooled connection's driver asked directly)."""
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            return await driver.fetchval(SNAPSHOT)

    async def write(self, change: View[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`change(connection, *args)` in a transaction of its own, committed."""
        if self._sqlite_writer is not None and self._threads is not None:
            # Right here when SQLite's write lock is free (a claim or a mark is a
            # statement or two, microseconds, where the hop to a thread and back cost
            # ~0.25 ms of CPU); on a thread, waiting there, when another writer has it.
            loop = asyncio.get_running_loop()
            try:
                done = self._commit_now(change, args, kwargs)
            except _Busy:
                pass
            else:
                self._commits += 1
                if self._commits % CHECKPOINT_EVERY == 0:  # its syncs off the loop
                    await loop.run_in_executor(self._threads, self._checkpoint)
                return done
            return await loop.run_in_executor(self._threads, self._commit, change, args, kwargs)
        async with self._writer.begin() as conn:
            return await conn.run_sync(change, *args, **kwargs)

    async def write_one(self, change: View[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`change(connection, *args)` that runs one statement, atomic on its own,
        committed: on PostgreSQL in autocommit, one round trip where BEGIN, the
        statement and COMMIT took three; on SQLite as `write`."""
        if self._sqlite_writer is not None:
            return await self.write(change, *args, **kwargs)
        async with self._one_statement.connect() as conn:
            return await conn.run_sync(change, *args, **kwargs)

    def _run(self, view: View[P, T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
        conn, driver = self._kept()
        if view not in _STABLE or kwargs:
            return self._read(conn, driver, view, args, kwargs)
        local = self._local
        (version,) = local.versions.execute("PRAGMA data_version").fetchone()
        memory: Memory = local.memory
        key = (view, *args)
        found = memory.get(version, key)
        if found is not _MISSING:
            return cast(T, found)
        answer = self._read(conn, driver, view, args, kwargs)
        memory.put(version, key, answer)
        return answer

    def _read(
        self,
        conn: Connection,
        driver: sqlite3.Connection,
        view: View[P, T],
        args: tuple[object, ...],
        kwargs: dict[str, object],
    ) -> T:
        try:
            driver.execute("BEGIN")  # deferred: WAL gives the view one snapshot
            try:
                return view(conn, *args, **kwargs)  # type: ignore[arg-type]
            finally:
                conn.rollback()  # SQLAlchemy's transaction, begun by the view's first statement
                driver.rollback()  # and SQLite's, if the view ran none
        except (SQLAlchemyError, sqlite3.Error):
            self._drop()  # a connection the database failed on is not kept
            raise

    def _kept(self) -> tuple[Connection, sqlite3.Connection]:
        """This thread's connection, kept between reads: checking one out of the pool
        and back (events, reset, bookkeeping) cost as much as a short view. Its
        driver's connection is kept beside it (SQLAlchemy's proxies, looked through on
        every read, cost more than the `PRAGMA data_version`)."""
        local = self._local
        conn: Connection | None = getattr(local, "conn", None)
        if conn is None:
            assert self._sqlite is not None
            conn = local.conn = self._sqlite.connect()
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            local.driver = driver
            # One cursor for every `PRAGMA data_version`, instead of a new one per read.
            local.versions = driver.cursor()
            # What the stable views answered, as of the connection's data_version.
            local.memory = Memory()
            with self._lock:
                self._open.append(conn)
        return conn, local.driver

    def _drop(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._lock:
                self._open.remove(conn)
            conn.close()

    def _commit(self, change: View[P, T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
        assert self._sqlite_writer is not None
        with self._sqlite_writer.begin() as conn:  # BEGIN IMMEDIATE (db.tune_sqlite)
            return change(conn, *args, **kwargs)  # type: ignore[arg-type]

    def _commit_now(
        self, change: View[P, T], args: tuple[object, ...], kwargs: dict[str, object]
    ) -> T:
        """`change` committed on the loop's thread; _Busy, having done nothing, when
        another connection holds the write lock (its busy_timeout is 0: never waits)."""
        conn = self._writing
        if conn is None:
            assert self._sqlite_writer is not None
            conn = self._writing = self._sqlite_writer.connect()
            driver: Any = conn.connection.driver_connection
            driver.execute("PRAGMA busy_timeout=0")
            # A commit only appends to the WAL; `write` checkpoints it on a thread.
            driver.execute("PRAGMA wal_autocheckpoint=0")
        try:
            try:
                transaction = conn.begin()  # BEGIN IMMEDIATE (db.tune_sqlite's begin event)
            except sqlite3.OperationalError as exc:  # raised by the event, unwrapped
                if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                    raise _Busy from exc
                raise
            with transaction:
                return change(conn, *args, **kwargs)  # type: ignore[arg-type]
        except (SQLAlchemyError, sqlite3.Error):
            self._writing = None  # a connection the database failed on is not kept
            conn.close()
            raise

    def _checkpoint(self) -> None:
        """PASSIVE, as SQLite's own autocheckpoint, on one of the writing threads."""
        assert self._sqlite_writer is not None
        raw = self._sqlite_writer.raw_connection()  # outside any transaction
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()  # type: ignore[union-attr]
        finally:
            raw.close()

    def close(self) -> None:
        if self._writing is not None:
            self._writing.close()
            self._writing = None
        with self._lock:
            kept, self._open = self._open, []
        for conn in kept:
            conn.close()
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        for engine in (self._sqlite, self._sqlite_writer):
            if engine is not None:
                engine.dispose()


class _Busy(Exception):
    """Another connection holds SQLite's write lock: wait for it on a thread."""
