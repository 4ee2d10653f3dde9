"""The migrations build exactly the tables the ORM maps, go down and up again, and
0002 keeps the payments 0001 stored."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from order_service.adapters.orm import metadata
from order_service.bootstrap import MIGRATIONS
from service_kit.db import create_engine
from service_kit.migrations import alembic_config, upgrade
from service_kit.tables import plumbing_metadata


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


async def test_the_migration_matches_the_mapped_tables(database_url):
    await upgrade(MIGRATIONS, database_url)

    tables, drift = await _schema(database_url)

    assert {"orders", "payments", "menu_replica", "outbox", "inbox"} <= tables
    assert drift == []


async def test_the_migration_goes_down_and_up_again(database_url):
    config = alembic_config(MIGRATIONS, database_url)
    await upgrade(MIGRATIONS, database_url)
    await asyncio.to_thread(command.downgrade, config, "base")

    tables, _ = await _schema(database_url)
    assert tables <= {"alembic_version"}

    await upgrade(MIGRATIONS, database_url)
    tables, _ = await _schema(database_url)
    assert "orders" in tables


async def test_0002_keeps_existing_payments_and_adds_the_refund_queue(database_url):
    config = alembic_config(MIGRATIONS, database_url)
    await asyncio.to_thread(command.upgrade, config, "0001")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO orders (order_id, customer_id, store_id, status, lines,"
                    " total_amount, address_line, address_region, phone, placed_at, version)"
                    " VALUES ('o1', 'c1', 's1', 'PLACED', '[]', 9000, 'l', 'r', 'p',"
                    " CURRENT_TIMESTAMP, 1)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO payments (order_id, reference, amount, status, charged_at,"
                    " version) VALUES ('o1', 'ref', 9000, 'CHARGED', CURRENT_TIMESTAMP, 1)"
                )
            )

        await upgrade(MIGRATIONS, database_url)

        async with engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT status, refund_requested_at FROM payments"))
            ).one()
            indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("payments"))
    finally:
        await engine.dispose()
    assert tuple(row) == ("CHARGED", None)
    assert "ix_payments_status" in {index["name"] for index in indexes}
