"""Database engines: SQLite files by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


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


def create_engine(url: str) -> AsyncEngine:
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
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def tune_sqlite(engine: Engine) -> None:
    """What every SQLite connection of ours runs with (the async engine's, and the
    synchronous one `reads.Reads` reads through)."""

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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so a read-then-write transaction cannot
        # deadlock on lock upgrade; readers (`read_only`) begin deferred and never
        # queue behind a writer: WAL gives them a snapshot.
        read = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


READ_ONLY = "fooddelivery_read_only"


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool for transactions that only read (views, health):
    on SQLite they begin deferred instead of taking the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
