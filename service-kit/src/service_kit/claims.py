"""Claiming rows, so two replicas of a service never do the same background work.

The background loops that work off a to-do table (order-service's refunds, the
store's acceptance timer, mypage's notifications) share one shape, `ClaimLoop`:
a pass finds up to a batch of due rows, acts on each (the stop in between, the
failures collected and the pass retried with backoff), and each row is taken with
`claimed()` inside the unit of work that acts on it:

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
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select

from service_kit.loop import WorkLoop

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])

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


class ClaimsFailed(Exception):
    """Some items of a pass failed; they stay due for the retry."""

    def __init__(self, items: Sequence[object]) -> None:
        super().__init__(f"{len(items)} item(s) failed: {', '.join(map(str, items))}")
        self.items = list(items)


class EndPass(Exception):
    """Raised by `act` that dealt with its item's failure itself (it set the item's own
    retry time): the pass ends there, without the loop's backoff."""


class ClaimLoop(WorkLoop, Generic[T]):
    """A WorkLoop whose pass is: `due(limit)`, then `act(item)` on each, in order.

    `act` claims its item inside the unit of work that does the work and returns
    how much it did (0: someone else had it, or it was no longer due). A failing
    item is logged and the pass goes on with the next; a pass with failures raises
    ClaimsFailed, so WorkLoop retries it with backoff. An `act` that raises EndPass
    ends the pass quietly (a gateway that is down gets one try per pass).
    """

    def __init__(self, pacing: Pacing) -> None:
        super().__init__(
            self.work_off, pacing.poll_interval, pacing.backoff_multiplier, pacing.max_backoff
        )
        self._batch_size = pacing.batch_size
        self.failures = 0

    @abstractmethod
    async def due(self, limit: int) -> Sequence[T]:
        """Up to `limit` items that look due, oldest first (an unlocked read)."""

    @abstractmethod
    async def act(self, item: T) -> int:
        """Claim `item` and do its work; raises when it failed (it stays due)."""

    def failed(self, item: T, exc: Exception) -> None:
        """Say that `item` failed (never anything a log must not carry)."""
        log.warning("%s: %s failed (%s)", type(self).__name__, item, type(exc).__name__)

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        self.failures += 1
        log.warning("%s: %s; retrying in %.1fs", type(self).__name__, exc, retry_in)

    async def work_off(self) -> int:
        """One pass; returns how much was done. Raises ClaimsFailed, after trying the
        others, when any item failed."""
        done, failed = 0, []
        for item in await self.due(self._batch_size):
            if self._stopping.is_set():
                break
            try:
                done += await self.act(item)
            except EndPass:
                break
            except Exception as exc:
                failed.append(item)
                self.failed(item, exc)
        if failed:
            raise ClaimsFailed(failed)
        return done
