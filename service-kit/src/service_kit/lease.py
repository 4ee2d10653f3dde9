"""The relay's lease: the gate that lets exactly one outbox relay per service
database publish at a time, however many API replicas run.

* PostgreSQL: a session-level `pg_try_advisory_lock` taken on a connection of its
  own, kept for as long as the relay holds the lease. A lost connection is a lost
  lease: PostgreSQL frees the lock when the session ends (the holder died, the
  backend was terminated, the server restarted), and closes its socket, which each
  round sees without a round trip; a session whose end never reached us (a dropped
  network) is found by asking the connection, at most once every `ask_every`;
  meanwhile such a relay cannot read rows to publish either (its database is out of
  reach), so at most the round in flight goes out beside the new holder's: a row
  twice, never out of order, applied once (the consumers' inbox). A replica that
  does not hold it asks again every `retry_seconds`, so another takes over within
  seconds. Per-order order holds across a hand-over: the new holder reads the
  unsent rows in commit (id) order, whatever the old one had left.
* SQLite: the gate always grants. A SQLite file belongs to one machine and one API
  process, so there is one relay per file by construction.

The key is derived from the service's name, so every replica of a service asks for
the same lock and services sharing one server never contend.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service_kit import metrics

log = logging.getLogger(__name__)


class Lease(Protocol):
    async def hold(self) -> bool:
        """Whether this process holds the lease now (taking it when it is free)."""

    async def release(self) -> None: ...

    def worked(self, count: int) -> None:
        """The holder's round did `count` things (published that many rows)."""


class AlwaysGranted:
    """The gate of a database with one relay by construction (SQLite)."""

    async def hold(self) -> bool:
        metrics.RELAY_LEASE_HELD.set(1)
        return True

    async def release(self) -> None:
        metrics.RELAY_LEASE_HELD.set(0)

    def worked(self, count: int) -> None:
        pass


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (Python's hash() is salted)."""
    digest = hashlib.blake2b(f"outbox-relay:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLease:
    """A PostgreSQL session-level advisory lock held on a dedicated connection."""

    def __init__(
        self,
        engine: AsyncEngine,
        name: str,
        *,
        retry_seconds: float = 1.0,
        ask_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._name = name
        self._key = lease_key(name)
        self._retry_seconds = retry_seconds
        self._ask_every = ask_every
        self._clock = clock
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the lease connection's asyncpg connection
        self._asked_at = 0.0
        self._next_try = 0.0
        self._first_publish_due = False

    async def hold(self) -> bool:
        if self._conn is not None:
            if await self._still_held(self._conn):
                return True
            await self._drop("its connection was lost")
        if self._clock() < self._next_try:
            return False
        self._next_try = self._clock() + self._retry_seconds
        # Out of the engine's pool, held for as long as the lease (one pool slot).
        conn = await self._engine.connect()
        try:
            # Autocommit: the connection sits idle between rounds, never in a transaction.
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            taken = (await conn.execute(select(func.pg_try_advisory_lock(self._key)))).scalar()
        except BaseException:
            await _close(conn, invalidate=True)  # it may have the lock: never pool it
            raise
        if not taken:
            await _close(conn)
            return False
        self._conn = conn
        self._driver = (await conn.get_raw_connection()).driver_connection
        self._asked_at = self._clock()
        self._first_publish_due = True
        metrics.RELAY_LEASE_HELD.set(1)
        log.info("relay lease of %s taken: this process publishes the outbox", self._name)
        return True

    def worked(self, count: int) -> None:
        # The hand-over is complete at the new holder's first publish: say when.
        if count and self._first_publish_due:
            self._first_publish_due = False
            log.info("relay lease of %s: first publish as the holder (%d rows)", self._name, count)

    async def release(self) -> None:
        conn = self._conn
        if conn is None:
            return
        with suppress(Exception):
            await conn.execute(select(func.pg_advisory_unlock(self._key)))
        await self._drop("released on stop", level=logging.INFO)

    async def _still_held(self, conn: AsyncConnection) -> bool:
        """Whether the lease's session is alive: its socket open (no round trip: a
        relay round on PostgreSQL is a few round trips, and this was one of them), and,
        once every `ask_every`, the server answering on it."""
        if self._driver is None or self._driver.is_closed():
            return False
        if self._clock() - self._asked_at < self._ask_every:
            return True
        try:
            await conn.execute(select(1))
        except Exception:
            return False
        self._asked_at = self._clock()
        return True

    async def _drop(self, why: str, level: int = logging.WARNING) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        metrics.RELAY_LEASE_HELD.set(0)
        if conn is not None:
            await _close(conn, invalidate=True)
        log.log(level, "relay lease of %s let go: %s", self._name, why)


async def _close(conn: AsyncConnection, *, invalidate: bool = False) -> None:
    """Give the connection back; `invalidate`: end its session for good, so a lock it
    may still hold can never go back to the pool with it."""
    with suppress(Exception):
        if invalidate:
            await conn.invalidate()
        await conn.close()


def lease_for(engine: AsyncEngine, name: str) -> Lease:
    """The gate for a service's database: an advisory lock on PostgreSQL, none on SQLite."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLease(engine, name)
    return AlwaysGranted()


def gated(lease: Lease, work: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
    """A round of `work` that runs only while `lease` is held (0 done otherwise)."""

    async def round_() -> int:
        if not await lease.hold():
            return 0
        done = await work()
        lease.worked(done)
        return done

    return round_
