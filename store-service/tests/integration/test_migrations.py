"""The migrations build exactly the tables the ORM maps, and go down and up again."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from service_kit.db import create_engine
from service_kit.migrations import alembic_config, upgrade
from service_kit.tables import plumbing_metadata
from store_service.adapters.orm import metadata
from store_service.bootstrap import MIGRATIONS


async def _schema(url: str) -> tuple[set[str], list]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def inspect_sync(sync_conn: Connection) -> tuple[set[str], list[Any]]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                tables = set(inspect(sync_conn).get_table_names())
                return tables, compare_metadata(context, [metadata, plumbing_metadata])

            return await conn.run_sync(inspect_sync)
    finally:
        await engine.dispose()


async def test_the_migrations_match_the_mapped_tables(database_url):
    await upgrade(MIGRATIONS, database_url)

    tables, drift = await _schema(database_url)

    assert {"stores", "menu_items", "store_orders", "outbox", "inbox"} <= tables
    assert drift == []


async def test_the_store_orders_revision_goes_down_and_up_again(database_url):
    config = alembic_config(MIGRATIONS, database_url)
    await upgrade(MIGRATIONS, database_url)
    await asyncio.to_thread(command.downgrade, config, "0001")

    tables, _ = await _schema(database_url)
    assert "store_orders" not in tables and "menu_items" in tables

    await asyncio.to_thread(command.downgrade, config, "base")
    assert (await _schema(database_url))[0] <= {"alembic_version"}

    await upgrade(MIGRATIONS, database_url)
    assert "store_orders" in (await _schema(database_url))[0]
