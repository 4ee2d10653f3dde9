"""The migrations build exactly the tables the ORM maps, and go down and up again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from service_kit.db import create_engine
from service_kit.migrations import alembic_config, upgrade
from service_kit.tables import plumbing_metadata
from store_service.adapters.orm import metadata, store_orders
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


async def test_tickets_waiting_before_the_deadline_revision_get_the_default_window(database_url):
    config = alembic_config(MIGRATIONS, database_url)
    await asyncio.to_thread(command.upgrade, config, "0002")
    placed = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for order_id, status in (("waiting", "RECEIVED"), ("decided", "ACCEPTED")):
                await conn.execute(
                    text(
                        "INSERT INTO store_orders (order_id, status, placed_at, updated_at,"
                        " delivered, returned, stock_taken, taken, version)"
                        " VALUES (:id, :status, :at, :at, false, false, false, '{}', 1)"
                    ).bindparams(id=order_id, status=status, at=placed)
                )
        await upgrade(MIGRATIONS, database_url)
        async with engine.connect() as conn:
            rows = await conn.execute(select(store_orders.c.order_id, store_orders.c.accept_by))
            deadlines = dict(rows.all())
    finally:
        await engine.dispose()

    assert deadlines == {"waiting": placed + timedelta(seconds=300), "decided": None}
