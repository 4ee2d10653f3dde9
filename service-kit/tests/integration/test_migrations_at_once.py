"""Processes that start together (a service's API and worker, their replicas) all
migrate its database at once: each must end up at head, none failing on what another
one created meanwhile, and the schema made once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text

from mypage_service.bootstrap import MIGRATIONS
from service_kit.db import create_engine
from service_kit.migrations import alembic_config
from testkit import PostgresServer

AT_ONCE = 4


MIGRATE = (
    "import asyncio, sys\n"
    "from mypage_service.bootstrap import MIGRATIONS\n"
    "from service_kit.migrations import upgrade\n"
    "asyncio.run(upgrade(MIGRATIONS, sys.argv[1]))\n"
)


async def _migrated_at_once(url: str) -> list[str]:
    """AT_ONCE processes migrate `url` together (alembic's context is a process-wide
    global, so processes, as in a deployment, not threads); the versions recorded."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", MIGRATE, url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(AT_ONCE)
    ]
    failures = []
    for process in processes:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        if process.returncode != 0:
            failures.append(stderr.decode()[-600:])
    assert failures == []
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return list(found.scalars())
    finally:
        await engine.dispose()


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config(MIGRATIONS, "sqlite://")).get_current_head()
    assert head is not None
    return head


async def test_on_postgresql_they_take_turns(postgres: PostgresServer):
    url = postgres.reset("test_service_kit_migrations_at_once")
    assert await _migrated_at_once(url) == [_head()]


async def test_on_sqlite_they_take_turns(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'mypage.db'}"
    assert await _migrated_at_once(url) == [_head()]
