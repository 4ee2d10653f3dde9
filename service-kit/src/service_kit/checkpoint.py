"""SQLite's WAL checkpoints, off the commit path.

By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages:
that one commit copies the WAL into the database file and fsyncs it, tens to
hundreds of milliseconds on this kind of disk while every other commit takes well
under one (measured: commits p50 0.02 ms, max 232 ms with the automatic checkpoint).
On the event hop that commit is the API's command, the relay's marking or the
consumer's batch, so the automatic checkpoint was the hop's p99. Our connections
turn it off (`db.tune_sqlite`) and the API process runs this loop instead: a PASSIVE
checkpoint every `interval` seconds on a connection of its own, in a thread. PASSIVE
takes no lock a writer or reader waits on; it copies what no reader still needs, and
the next writer starts the WAL over once all of it was copied, so the file stays
small. A database a process closes last is checkpointed by SQLite on that close, so
a worker running while its API is down only grows the WAL until then.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3

from service_kit.loop import WorkLoop

log = logging.getLogger(__name__)


class WalCheckpointer(WorkLoop):
    """A BackgroundLoop: `PRAGMA wal_checkpoint(PASSIVE)` on `path` every `interval` s."""

    def __init__(self, path: str, interval: float | None = None) -> None:
        interval = interval or float(os.environ.get("SQLITE_CHECKPOINT_S", "1.0"))
        super().__init__(self.checkpoint, interval, backoff_multiplier=1.0, max_backoff=30.0)
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def checkpoint(self) -> int:
        await asyncio.to_thread(self._checkpoint)
        return 0  # never "more to do": the next pass comes after `interval`

    def _checkpoint(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, timeout=30, check_same_thread=False)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        log.warning("WAL checkpoint failed (%s); retrying in %.0f s", exc, retry_in)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
