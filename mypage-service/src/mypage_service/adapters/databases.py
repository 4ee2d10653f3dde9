"""Naming and opening databases other than the one the process serves: the live
read model a rebuild reads from or compares with, and the rebuild's target."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service_kit.db import async_url, drop_closed_connections


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for any other database (or an in-memory one)."""
    parsed = make_url(async_url(url))
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def shown(url: str) -> str:
    """A URL fit for a terminal or a log: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def same_database(a: str, b: str) -> bool:
    path_a, path_b = sqlite_path(a), sqlite_path(b)
    if path_a is not None or path_b is not None:
        return path_a == path_b
    return make_url(async_url(a)).render_as_string(False) == make_url(
        async_url(b)
    ).render_as_string(False)


def reader_engine(url: str) -> AsyncEngine:
    """An engine for reading someone else's database. Unlike the services' engines it
    opens no BEGIN IMMEDIATE on SQLite, so reading a live file never holds up its
    writers; and it never creates a SQLite file that is not there."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise FileNotFoundError(f"no SQLite database at {path}")
        return create_async_engine(
            async_url(url), connect_args={"timeout": 30}, hide_parameters=True
        )
    # As the services' engines: no ping per checkout, values kept out of errors.
    engine = create_async_engine(async_url(url), hide_parameters=True)
    drop_closed_connections(engine.sync_engine)
    return engine


async def tables_with_rows(engine: AsyncEngine) -> list[str]:
    """The tables that hold at least one row (Alembic's bookkeeping aside)."""

    def names(conn: Connection) -> list[str]:
        return [n for n in inspect(conn).get_table_names() if n != "alembic_version"]

    async with engine.connect() as conn:
        found = []
        for name in await conn.run_sync(names):
            count = await conn.scalar(select(func.count()).select_from(table(name)))
            if count:
                found.append(name)
        return found
