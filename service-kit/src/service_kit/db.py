"""Database engines: SQLite files by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only


def default_sqlite_url(service: str) -> str:
    data_dir = Path(os.environ.get("FOODDELIVERY_DATA_DIR", ".local/data"))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir.resolve() / (service + '.db')}"


def async_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver for each."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }.get(parsed.drivername)
    # str(URL) would mask the password as "***": render it in full.
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


# PostgreSQL pools, unless the settings say otherwise (DB_POOL_SIZE, DB_POOL_OVERFLOW).
DB_POOL_SIZE = 10
DB_POOL_OVERFLOW = 10


def create_engine(
    url: str, *, pool_size: int = DB_POOL_SIZE, max_overflow: int = DB_POOL_OVERFLOW
) -> AsyncEngine:
    url = async_url(url)
    # hide_parameters: a database error's message (which may reach a log or a
    # traceback) names the statement but never its values (emails, phones, hashes).
    if url.startswith("sqlite"):
        # A pool big enough for the requests in flight and no overflow: an overflow
        # connection is opened (and its PRAGMAs run) and closed per request under load.
        in_memory = make_url(url).database in (None, "", ":memory:")  # one static connection
        pool = {} if in_memory else {"pool_size": 20, "max_overflow": 0, "pool_timeout": 30}
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, hide_parameters=True, **pool
        )
        tune_sqlite(engine.sync_engine)
        return engine
    # Beyond pool_size, an overflow connection is opened per request (a new server
    # process and its start-up) and closed again at check-in: size the pool for the
    # requests a process has in flight, and the overflow for bursts.
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, hide_parameters=True
    )
    drop_closed_connections(engine.sync_engine)
    return engine


def drop_closed_connections(engine: Engine) -> None:
    """A pooled connection the server closed (a restart, a terminated backend) is
    replaced at checkout, without a round trip: asyncpg knows a closed socket as soon
    as the loop reads its end. The pool's pre-ping would ask the server instead, at
    every checkout (SQLAlchemy's asyncpg ping is BEGIN, a query and ROLLBACK: three
    round trips per unit of work, read or event batch)."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(_dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: object) -> None:
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this connection")  # the pool reconnects


def tune_sqlite(engine: Engine, *, begin: bool = True) -> None:
    """What every SQLite connection of ours runs with (the async engine's, and the
    synchronous ones `reads.Reads` reads and writes through). Without `begin`, the
    caller issues its own BEGIN (a connection listener makes SQLAlchemy dispatch its
    execute events on every statement, a fifth of a short read)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:  # the driver's connection
        # WAL lets the API, the relay and the consumer read while one writes;
        # the driver's own BEGIN handling is replaced by an explicit BEGIN (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    if not begin:
        return

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so a read-then-write transaction cannot
        # deadlock on lock upgrade; readers (`read_only`) begin deferred and never
        # queue behind a writer: WAL gives them a snapshot.
        options = conn.get_execution_options()
        if SERIAL in options:  # serial_sessions: the write lock taken off the loop
            options[SERIAL].begin(conn)
            return
        begin = "BEGIN" if options.get(READ_ONLY, False) else "BEGIN IMMEDIATE"
        driver = conn.connection.driver_connection
        if isinstance(driver, sqlite3.Connection):
            # Straight to the standard library's driver: exec_driver_sql would set up a
            # whole execution context (~20 us) for a statement with no result.
            driver.execute(begin)
        else:  # aiosqlite's, through its thread
            conn.exec_driver_sql(begin)


READ_ONLY = "fooddelivery_read_only"
SERIAL = "fooddelivery_serial"


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool for transactions that only read (views, health):
    on SQLite they begin deferred instead of taking the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def execute(session: AsyncSession, statement: Any, params: Any = None) -> Any:
    """A Core statement on the session's connection, in its transaction: it needs
    none of the ORM session's execution steps (one greenlet hop instead)."""
    return await session.run_sync(lambda sync: sync.connection().execute(statement, params))


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What an AsyncSession awaits of a cursor after a statement (aiosqlite's closes
        it on its thread); a sqlite3 cursor has its rows at hand already."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


def sqlite_file_engine(
    engine: AsyncEngine, pool_size: int, max_overflow: int = 0, *, begin: bool = True
) -> Engine | None:
    """The same SQLite file through the standard library's driver, synchronously and
    tuned alike (WAL, BEGIN IMMEDIATE for writers; `begin`: see tune_sqlite); None
    unless `engine` is on a file. Its cursors can serve an AsyncSession too
    (`inline_sessions`)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    sync = create_sync_engine(
        url.set(drivername="sqlite"),
        connect_args={"timeout": 30, "check_same_thread": False, "factory": _Connection},
        pool_size=pool_size,
        max_overflow=max_overflow,
        hide_parameters=True,
    )
    tune_sqlite(sync, begin=begin)
    return sync


@dataclass(frozen=True)
class _SyncBind:
    """All an AsyncSession asks of its bind: the synchronous engine under it."""

    sync_engine: Engine


def inline_sessions(sync: Engine) -> async_sessionmaker[AsyncSession]:
    """AsyncSessions whose statements run right on the event loop's thread through a
    synchronous engine (`sqlite_file_engine`), for a process that writes one unit of
    work at a time (a worker). Through aiosqlite each statement (BEGIN, execute, fetch,
    close, commit) is a hand-off to its thread and back, ~20 per consumed event and
    most of its CPU, while the statement itself takes microseconds; waiting there for
    the write lock holds up nothing that could go on meanwhile. The session's API is
    unchanged (its greenlet simply never has to wait), so repositories and units of
    work are the same code."""
    return async_sessionmaker(_SyncBind(sync), expire_on_commit=False)  # type: ignore[call-overload]


BUSY_TIMEOUT_MS = 30000  # how long a writer waits for another process's (tune_sqlite)
# An API's commits between two checkpoints of its WAL: a command writes a few pages,
# so about SQLite's own autocheckpoint (1,000 pages).
CHECKPOINT_EVERY = 200


class _Serial:
    """The write lock of a process whose units of work run inline (`serial_sessions`):
    one unit of work of this process holds SQLite's write lock at a time, the others
    wait on an asyncio lock (they never block the loop), and the wait for another
    process's writer (the worker, a checkpoint) happens on a thread."""

    HELD = "fooddelivery_serial_held"  # in a pooled connection's info while it holds the lock

    def __init__(self) -> None:
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        self._commits = 0

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()  # one lock per loop (tests run several)
        return self._locks.setdefault(loop, asyncio.Lock())

    def begin(self, conn: Connection) -> None:
        """The begin event, inside the session's greenlet: the process's turn, then
        BEGIN IMMEDIATE at once when the file is free, else waited for on a thread."""
        lock = self._lock()
        await_only(lock.acquire())
        conn.connection.info[self.HELD] = lock  # let go of when the connection is checked in
        dbapi: Any = conn.connection.dbapi_connection
        try:
            dbapi.execute("BEGIN IMMEDIATE")  # busy_timeout is 0 here: never waits
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            await_only(asyncio.to_thread(self._begin_waiting, dbapi))

    @staticmethod
    def _begin_waiting(dbapi: Any) -> None:
        dbapi.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            dbapi.execute("BEGIN IMMEDIATE")
        finally:
            dbapi.execute("PRAGMA busy_timeout=0")

    def commit(self, conn: Connection) -> None:
        """The commit event: COMMIT right here, since with these connections' WAL
        autocheckpoint off it only appends to the WAL (no sync at synchronous=NORMAL),
        microseconds, against a thread hop costing ~0.25 ms of CPU. Every
        CHECKPOINT_EVERY commits the WAL is checkpointed (PASSIVE, as SQLite's own
        autocheckpoint) on a thread, so its syncs never stall the loop. (The dialect's
        own commit then finds nothing to do.)"""
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.commit()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            await_only(asyncio.to_thread(self._checkpoint, dbapi))

    @staticmethod
    def _checkpoint(dbapi: Any) -> None:
        dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)").close()  # its row unread: reset

    def checked_in(self, _dbapi: Any, record: ConnectionPoolEntry) -> None:
        lock = record.info.pop(self.HELD, None)
        if lock is not None:
            lock.release()


def serial_sessions(engine: AsyncEngine) -> tuple[async_sessionmaker[AsyncSession], Engine] | None:
    """For an API on a SQLite file: AsyncSessions whose statements run inline on the
    event loop's thread (like `inline_sessions`) while several requests are in flight.
    Through aiosqlite every statement of a unit of work is a hand-off to a thread and
    back (~20 per command); here a command costs none when the file is free and one at
    most (BEGIN when another process writes; a checkpoint every CHECKPOINT_EVERY), and
    its units of work take their turns on an asyncio lock, so none blocks the loop
    waiting for SQLite's. None unless `engine` is on a file (PostgreSQL keeps its async
    driver)."""
    # Overflow unbounded: a checkout must never block the loop (the lock is the gate).
    sync = sqlite_file_engine(engine, pool_size=20, max_overflow=-1)
    if sync is None:
        return None
    serial = _Serial()

    @event.listens_for(sync, "connect")
    def _no_busy_wait(dbapi_conn: Any, _record: object) -> None:  # after tune_sqlite's
        dbapi_conn.execute("PRAGMA busy_timeout=0")
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")  # _Serial.commit checkpoints

    event.listen(sync, "commit", serial.commit)
    event.listen(sync.pool, "checkin", serial.checked_in)
    return inline_sessions(sync.execution_options(**{SERIAL: serial})), sync
