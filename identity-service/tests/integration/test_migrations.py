"""The migrations build exactly the tables the ORM maps, and go down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from identity_service.adapters.orm import metadata
from identity_service.bootstrap import MIGRATIONS
from service_kit.db import create_engine
from service_kit.migrations import alembic_config, upgrade

TABLES = {"accounts", "refresh_families", "refresh_tokens", "reset_tokens", "login_failures"}


async def _schema(url: str) -> tuple[set[str], list]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def inspect_sync(sync_conn):  # type: ignore[no-untyped-def]
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                tables = set(inspect(sync_conn).get_table_names())
                return tables, compare_metadata(context, metadata)

            return await conn.run_sync(inspect_sync)
    finally:
        await engine.dispose()


async def test_the_migrations_match_the_mapped_tables_without_outbox_or_inbox(database_url):
    await upgrade(MIGRATIONS, database_url)

    tables, drift = await _schema(database_url)

    assert tables - {"alembic_version"} == TABLES
    assert drift == []


async def test_the_first_revision_goes_down_and_up_again(database_url):
    await upgrade(MIGRATIONS, database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, database_url), "base")
    assert (await _schema(database_url))[0] <= {"alembic_version"}

    await upgrade(MIGRATIONS, database_url)
    assert TABLES <= (await _schema(database_url))[0]
