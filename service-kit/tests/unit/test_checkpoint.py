"""SQLite commits never checkpoint the WAL themselves (that made the hop's p99); the
API's WalCheckpointer does, off the commit path."""

import os
import sqlite3

from sqlalchemy import text

from service_kit.checkpoint import WalCheckpointer
from service_kit.db import create_engine


async def test_commits_leave_the_wal_to_the_checkpointer(tmp_path):
    path = str(tmp_path / "wal.db")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER, v TEXT)"))
        for batch in range(3):  # ~1,500 pages: past SQLite's automatic 1,000
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO t VALUES (:n, :v)"),
                    [{"n": n, "v": "x" * 3000} for n in range(500 * batch, 500 * batch + 500)],
                )
        # Grown past 1,000 pages: with SQLite's automatic checkpoint the third
        # commit would have started it over at the front instead.
        assert os.path.getsize(path + "-wal") > 1300 * 4096

        checkpointer = WalCheckpointer(path, interval=60)
        await checkpointer.checkpoint()
        await checkpointer.close()

        async with engine.begin() as conn:  # the next writer starts the WAL over
            await conn.execute(text("INSERT INTO t VALUES (-1, 'y')"))
        with sqlite3.connect(path) as probe:  # how many frames the WAL holds now
            _, frames, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert frames < 10
    finally:
        await engine.dispose()
