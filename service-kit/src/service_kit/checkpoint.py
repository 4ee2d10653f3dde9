"""SQLite's WAL checkpoints, off the writers' path.

By default SQLite checkpoints inside the commit that takes the WAL past 1,000 pages:
that one commit copies the WAL into the database file and syncs both, tens to hundreds
of milliseconds during which its caller waits (a worker's event loop, whose units of
work run inline). So our connections do not checkpoint on commit (`db.tune_sqlite`
sets `wal_autocheckpoint` to a safety net ten times higher, for a process with no
checkpointer, such as a CLI); one `Checkpointer` per database file, in the API process
of the service that owns it, does it on its own thread and connection instead:

* every `interval` seconds in which the WAL was written, `PRAGMA wal_checkpoint(PASSIVE)`
  copies what it can without waiting for or blocking anyone;
* once the WAL holds `restart_pages` or more, `PRAGMA wal_checkpoint(RESTART)`: it takes
  the write lock, copies the little PASSIVE has not, and waits (at most the connection's
  busy timeout, `RESTART_WAIT_MS`) for the readers of older snapshots to finish, so the
  next writer starts the WAL over from its beginning. A background PASSIVE alone cannot
  bound the WAL: a writer restarts it only if, at that moment, the WAL is wholly copied
  and no reader holds an older snapshot, and under steady reads one nearly always does.
  A RESTART that cannot get the lock or outwait the readers in time answers busy and
  changes nothing; the next tick tries again;
* `journal_size_limit` (set on every connection) truncates the WAL file a writer restarts,
  so its size on disk stays near `restart_pages` too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

log = logging.getLogger(__name__)

RESTART_PAGES = 1_000  # SQLite's own autocheckpoint threshold: the WAL restarts past it
AUTOCHECKPOINT_PAGES = 10 * RESTART_PAGES  # the safety net where no checkpointer runs
RESTART_WAIT_MS = 20  # how long a RESTART may hold writers up waiting for old readers
INTERVAL_S = 0.25


@dataclass(frozen=True)
class Checkpoint:
    """What one `PRAGMA wal_checkpoint` answered: whether it was busy (could not finish),
    the WAL's frames, and how many of them are copied into the database file."""

    busy: bool
    wal_frames: int
    copied: int


class Checkpointer:
    """A BackgroundLoop (runtime.running): checkpoints `path` every `interval` seconds
    in which its WAL was written, on a thread of its own, until stop()."""

    def __init__(
        self, path: str, *, interval: float = INTERVAL_S, restart_pages: int = RESTART_PAGES
    ) -> None:
        self.path = path
        self.interval = interval
        self.restart_pages = restart_pages
        self._stopping = threading.Event()
        self._written_at: int | None = None  # the WAL's mtime when last checkpointed
        self.last: Checkpoint | None = None  # what the last checkpoint answered

    async def run(self) -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="checkpoint") as thread:
            await asyncio.get_running_loop().run_in_executor(thread, self._run)

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        conn = connect(self.path)
        try:
            while not self._stopping.wait(self.interval):
                try:
                    self.tick(conn)
                except sqlite3.Error:  # e.g. the file went away; the next tick tries again
                    log.warning("checkpoint of %s failed", self.path, exc_info=True)
        finally:
            conn.close()

    def tick(self, conn: sqlite3.Connection) -> Checkpoint | None:
        """One pass: None if the WAL was not written since the last one."""
        try:
            written_at = os.stat(self.path + "-wal").st_mtime_ns
        except FileNotFoundError:
            return None
        if written_at == self._written_at:
            return None
        self._written_at = written_at
        done = checkpoint(conn, "PASSIVE")
        if done.wal_frames >= self.restart_pages:
            done = checkpoint(conn, "RESTART")
        self.last = done
        return done


def connect(path: str) -> sqlite3.Connection:
    """The checkpointer's own connection: autocommit, and a busy timeout that bounds how
    long a RESTART keeps writers waiting."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
    return conn


def checkpoint(conn: sqlite3.Connection, mode: str) -> Checkpoint:
    started = time.perf_counter()
    busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    log.debug(
        "wal_checkpoint(%s) busy=%s frames=%s copied=%s in %.1f ms",
        mode,
        busy,
        frames,
        copied,
        (time.perf_counter() - started) * 1000,
    )
    return Checkpoint(bool(busy), frames, copied)
