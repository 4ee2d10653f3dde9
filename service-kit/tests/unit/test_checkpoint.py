"""SQLite's WAL is checkpointed by one Checkpointer per file, never inside a commit:
our connections leave the WAL alone past SQLite's usual 1,000 pages, and the
checkpointer keeps it near that size under steady writes and reads, with every
committed row still there."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, text

from service_kit import checkpoint
from service_kit.checkpoint import Checkpointer
from service_kit.db import create_engine, sqlite_file, sqlite_file_engine
from testkit import eventually

PAGE = 4096
ROWS_PER_COMMIT = 100  # a 4,000-byte blob a row: about 100 pages a commit


def engine_on(tmp_path: Path) -> tuple[Engine, str]:
    async_engine = create_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    path = sqlite_file(async_engine)
    sync = sqlite_file_engine(async_engine, pool_size=2)
    assert sync is not None and path is not None
    with sync.begin() as conn:
        conn.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)"))
    return sync, path


def write(engine: Engine) -> None:
    with engine.begin() as conn:  # BEGIN IMMEDIATE ... COMMIT, tuned as the services'
        for _ in range(ROWS_PER_COMMIT):
            conn.execute(text("INSERT INTO blobs (b) VALUES (randomblob(4000))"))


def wal_bytes(path: str) -> int:
    return os.path.getsize(path + "-wal")


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM blobs")).scalar_one())


def test_a_commit_never_checkpoints(tmp_path: Path) -> None:
    engine, path = engine_on(tmp_path)
    for _ in range(15):  # 1,500 pages: SQLite's default would have checkpointed
        write(engine)
    assert wal_bytes(path) > checkpoint.RESTART_PAGES * PAGE
    engine.dispose()


def test_the_checkpointer_keeps_the_wal_near_its_restart_size(tmp_path: Path) -> None:
    engine, path = engine_on(tmp_path)
    checkpointer = Checkpointer(path)
    conn = checkpoint.connect(path)
    reader = sqlite3.connect(path, isolation_level=None)
    largest = 0
    for _ in range(60):  # 6,000 pages, about 24 MB written
        # A reader holds a snapshot while the writer commits, as the views' reads do.
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM blobs").fetchone()
        write(engine)
        reader.execute("COMMIT")
        checkpointer.tick(conn)
        largest = max(largest, wal_bytes(path))
    assert largest <= (checkpoint.RESTART_PAGES + 3 * ROWS_PER_COMMIT) * PAGE * 1.1
    assert rows(engine) == 60 * ROWS_PER_COMMIT
    reader.close()
    conn.close()
    engine.dispose()


def test_an_unwritten_wal_is_left_alone(tmp_path: Path) -> None:
    engine, path = engine_on(tmp_path)
    checkpointer = Checkpointer(path)
    conn = checkpoint.connect(path)
    write(engine)
    assert checkpointer.tick(conn) is not None
    assert checkpointer.tick(conn) is None  # nothing written since
    conn.close()
    engine.dispose()


async def test_the_loop_checkpoints_on_its_own_thread_until_stopped(tmp_path: Path) -> None:
    engine, path = engine_on(tmp_path)
    checkpointer = Checkpointer(path, interval=0.01, restart_pages=50)
    task = asyncio.create_task(checkpointer.run())
    probe = sqlite3.connect(path, isolation_level=None)
    try:
        write(engine)  # 100 pages: past this checkpointer's restart size

        async def restarted() -> bool:  # a RESTART copied every frame of the WAL
            last = checkpointer.last
            return last is not None and not last.busy and last.copied == last.wal_frames >= 50

        await eventually(restarted, within=10, interval=0.01, what="a RESTART checkpoint")
        write(engine)  # the next writer starts the WAL over
        assert probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1] <= 2 * ROWS_PER_COMMIT
    finally:
        checkpointer.stop()
        await asyncio.wait_for(task, timeout=10)
        probe.close()
        engine.dispose()
    assert rows(engine) == 2 * ROWS_PER_COMMIT
