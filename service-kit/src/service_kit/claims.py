"""Claiming rows, so two replicas of a service never do the same background work.

The background loops that work off a to-do table (order-service's refunds, the
store's acceptance timer, mypage's notifications) are one loop, `ClaimLoop`, run
over a service's `Claims`: the service says which rows are due and how to act on
one; the loop opens a unit of work for each, paces the passes, collects failures
and retries with backoff. A pass finds up to a batch of due rows and acts on each
(the stop in between), and each row is taken with `claimed()` inside the unit of
work that acts on it (or, for a table whose work needs no transaction held open,
all of a pass's rows at once in `due`, their outcomes written at once in `finish`):

* PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`: a row another replica holds is
  skipped, never waited for, and stays locked until the acting transaction ends,
  so exactly one replica acts on it; a replica that dies lets go of its rows with
  its connection.
* SQLite: SQLAlchemy's SQLite dialect renders no locking clause, and none is
  needed: a SQLite file has one writer at a time (BEGIN IMMEDIATE, db.py) and one
  API process runs the loops.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from service_kit.loop import WorkLoop

T = TypeVar("T")
U = TypeVar("U")
S = TypeVar("S", bound=Select[Any])
Units = Callable[[], AbstractAsyncContextManager[U]]

log = logging.getLogger(__name__)


def claimed(query: S, *of: Any) -> S:
    """`query`'s rows locked for the transaction, skipping the ones another holds
    (`of`: the tables to lock when the query joins others)."""
    return query.with_for_update(skip_locked=True, of=list(of) if of else None)


@dataclass(frozen=True)
class Pacing:
    """How a ClaimLoop works off its rows: a loop states only what differs."""

    poll_interval: float = 1.0  # seconds an idle pass waits for wake()
    batch_size: int = 50  # rows one pass takes at the most
    backoff_multiplier: float = 0.2  # a failed pass is retried after this ...
    max_backoff: float = 5.0  # ... growing exponentially up to this
    settle: float = 0.0  # after a wake, wait this long for the wakes that follow (loop.py)


class ClaimsFailed(Exception):
    """Some items of a pass failed; they stay due for the retry."""

    def __init__(self, items: Sequence[object]) -> None:
        super().__init__(f"{len(items)} item(s) failed: {', '.join(map(str, items))}")
        self.items = list(items)


class EndPass(Exception):
    """Raised by `act` that dealt with its item's failure itself (it set the item's own
    retry time): the pass ends there, without the loop's backoff."""


class Claims(ABC, Generic[T, U]):
    """A to-do table, in a service's words: which items are due and how to act on one,
    each inside the unit of work (`U`) the ClaimLoop opens for it."""

    @abstractmethod
    async def due(self, uow: U, limit: int) -> Sequence[T]:
        """Up to `limit` items that look due, oldest first (an unlocked read; or the
        items claimed, for a table that claims a pass's items at once)."""

    @abstractmethod
    async def act(self, uow: U, item: T) -> int:
        """Claim `item` and do its work; how much it did (0: someone else had it, or it
        was no longer due). Raises when it failed (it stays due), EndPass when it dealt
        with its failure itself."""

    async def idle_seconds(self, uow: U, poll_interval: float) -> float:
        """How long an idle loop waits for wake(): the poll interval, unless the table
        knows when its next item falls due."""
        return poll_interval

    async def finish(self, uow: U) -> None:
        """After a pass that found items, however its acts ended: write what the pass did at
        once (a table that claims its items in `due`), in a unit of work of its own."""

    def failed(self, item: T, exc: Exception) -> None:
        """Say that `item` failed (never anything a log must not carry)."""
        log.warning("%s: %s failed (%s)", type(self).__name__, item, type(exc).__name__)

    async def close(self) -> None:
        """Let go of what the table's collaborators hold, once the loop has stopped."""


class ClaimLoop(WorkLoop, Generic[T, U]):
    """A WorkLoop whose pass is: `due(limit)`, then `act(item)` on each, in order, each
    in a unit of work of its own from `units`, then `finish` when anything was due.

    A failing item is logged and the pass goes on with the next; a pass with failures
    raises ClaimsFailed, so WorkLoop retries it with backoff. An `act` that raises
    EndPass ends the pass quietly (a gateway that is down gets one try per pass).
    `done` counts what the acts did; `failures`, the failed passes and ended ones.
    """

    def __init__(self, units: Units[U], claims: Claims[T, U], pacing: Pacing) -> None:
        super().__init__(
            self.work_off,
            pacing.poll_interval,
            pacing.backoff_multiplier,
            pacing.max_backoff,
            pacing.settle,
        )
        self.claims = claims
        self._units = units
        self._batch_size = pacing.batch_size
        self.done = 0
        self.failures = 0

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        # Only the kind of failure: a database error may quote a row's personal data.
        self.failures += 1
        log.warning(
            "%s: %s; retrying in %.1fs", type(self.claims).__name__, type(exc).__name__, retry_in
        )

    async def idle_seconds(self) -> float:
        try:
            async with self._units() as uow:
                return await self.claims.idle_seconds(uow, self._poll_interval)
        except Exception as exc:  # the next pass retries with backoff
            log.warning("%s: next due unknown (%s)", type(self.claims).__name__, type(exc).__name__)
            return self._poll_interval

    async def close(self) -> None:
        await self.claims.close()

    async def work_off(self) -> int:
        """One pass; returns how much was done. Raises ClaimsFailed, after trying the
        others, when any item failed."""
        done, failed = 0, []
        async with self._units() as uow:
            items = await self.claims.due(uow, self._batch_size)
        for item in items:
            if self._stopping.is_set():
                break
            try:
                async with self._units() as uow:
                    done += await self.claims.act(uow, item)
            except EndPass:
                self.failures += 1
                break
            except Exception as exc:
                failed.append(item)
                self.claims.failed(item, exc)
        if items and type(self.claims).finish is not Claims.finish:
            # Only a table that writes at the end pays for the unit of work.
            async with self._units() as uow:
                await self.claims.finish(uow)
        self.done += done
        if failed:
            raise ClaimsFailed(failed)
        return done
