"""Alembic glue shared by every service: each service's `env.py` is two lines.

from service_kit.migrations import run_env
run_env(metadata)            # the service's MetaData; the plumbing tables are added
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, make_url

from service_kit.db import async_url, create_engine
from service_kit.lease import lease_key
from service_kit.tables import plumbing_metadata

# The advisory lock the migrations of a database take, keyed as the relays' leases are.
MIGRATION_LOCK = lease_key("schema migrations")


def run_env(service_metadata: MetaData, *, plumbing: bool = True) -> None:
    """Body of an Alembic env.py (online mode only: migrations run against a database).
    `plumbing=False` for a service without outbox and inbox (no messaging)."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError(
            "no sqlalchemy.url: run migrations through service_kit.migrations.upgrade"
        )
    targets = [service_metadata, plumbing_metadata] if plumbing else [service_metadata]

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=targets,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # One migrator at a time (the API and the worker both migrate at start;
                # replicas too): the others wait here, then find the schema at head.
                # (On SQLite: _sqlite_turn.)
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            context.run_migrations()

    async def online() -> None:
        engine = create_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    with _sqlite_turn(url):
        asyncio.run(online())


@contextmanager
def _sqlite_turn(url: str) -> Iterator[None]:
    """On a SQLite file, one migrator at a time across processes: an exclusive lock on
    a file beside the database, held from before the current version is read until the
    last migration committed. SQLite's write lock does not do it: Alembic runs SQLite's
    migrations in a transaction each (it takes SQLite's DDL as not transactional), so a
    second migrator that read the version first would apply a migration again between
    two of them (`duplicate column name`: test_migrations_at_once, once in CI)."""
    database = make_url(url).database
    if make_url(url).get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with open(f"{database}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, or the process ends
        yield


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


async def upgrade(migrations_dir: Path, url: str) -> None:
    """Bring a database to the newest revision. Alembic's env runs its own event
    loop, so it gets a thread of its own when called from async code."""
    await asyncio.to_thread(command.upgrade, alembic_config(migrations_dir, url), "head")


def create_plumbing_tables() -> None:
    """Version 1 of the outbox and inbox, for a service's first migration.
    Later changes to them come as new functions here, called from new revisions."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_version", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("message_key", sa.String(length=128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )


def add_outbox_traceparent() -> None:
    """Version 2 of the outbox: the trace its row continues (nullable: rows staged
    before, or with tracing off, have none)."""
    import sqlalchemy as sa
    from alembic import op

    op.add_column("outbox", sa.Column("traceparent", sa.String(length=55), nullable=True))


def drop_outbox_traceparent() -> None:
    from alembic import op

    with op.batch_alter_table("outbox") as batch:  # SQLite drops a column by copying
        batch.drop_column("traceparent")


def drop_plumbing_tables() -> None:
    from alembic import op

    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")
