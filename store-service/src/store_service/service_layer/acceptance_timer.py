"""The acceptance timer: rejects every ticket still RECEIVED when its window ends.

A BackgroundLoop of the API process (beside the outbox relay). The deadlines are
rows (`store_orders.accept_by`), so the timer holds no state of its own and
survives any restart: a deadline that passed while the service was down is simply
due at the first look after start.

* Each look claims a bounded batch of due RECEIVED tickets through the
  (status, accept_by) index, decides them in the domain (`StoreOrder.time_out`)
  and commits them with their OrderRejected outbox rows in one transaction. On
  PostgreSQL the claimed rows are locked (FOR UPDATE SKIP LOCKED), so an owner's
  accept racing the deadline either committed first (the ticket is no longer
  RECEIVED and is not claimed) or waits and then loses the version check (409
  naming REJECTED): exactly one wins, and a ticket times out once.
* A look that rejected something is followed at once by the next one; after an
  idle look it sleeps until the earliest deadline, at most `max_sleep`, and is
  woken early by wake() when a ticket is registered in this process. Tickets
  are registered by the worker process, so the bounded sleep is what finds them:
  with `max_sleep` no longer than the window, a new deadline is always seen
  before it passes.
* A failed look (database away) is retried with exponential backoff, never dropped
  (service_kit.loop.WorkLoop runs the looks, the waits and the retries; the timer
  only says how long an idle wait lasts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from service_kit.loop import WorkLoop
from store_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MIN_SLEEP = 0.01


def seconds_until(deadline: datetime | None, now: datetime, max_sleep: float) -> float:
    """How long to sleep before the next look: until `deadline`, within [0, max_sleep]."""
    if deadline is None:
        return max_sleep
    return min(max(0.0, (deadline - now).total_seconds()), max_sleep)


class AcceptanceTimer(WorkLoop):
    """Rejects the tickets whose acceptance window has ended, once each."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        batch_size: int = 50,
        max_sleep: float = 1.0,
        backoff_multiplier: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        # The poll interval is the sleep's bound: no deadline is known (or it is later).
        super().__init__(self.expire_due, max_sleep, backoff_multiplier, max_backoff)
        self._uow_factory = uow_factory
        self._clock = clock
        self._batch_size = batch_size
        self.timed_out = 0
        self.failures = 0
        # How long after its deadline a ticket was rejected, at most (seconds).
        self.max_lateness = 0.0

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        self.failures += 1
        log.warning(
            "acceptance timer: %s: %s; retrying in %.1fs", type(exc).__name__, exc, retry_in
        )

    async def idle_seconds(self) -> float:
        """Until the earliest deadline, at most `max_sleep`."""
        try:
            deadline = await self.next_deadline()
        except Exception as exc:  # the next look retries with backoff
            log.warning("acceptance timer: next deadline unknown (%s)", type(exc).__name__)
            deadline = None
        # A floor, so a due ticket another transaction holds locked (skipped by the
        # claim) is looked at again shortly rather than in a busy loop.
        return max(MIN_SLEEP, seconds_until(deadline, self._clock(), self._poll_interval))

    async def expire_due(self) -> int:
        """One look: reject up to a batch of tickets whose window has ended; returns
        how many were rejected."""
        async with self._uow_factory() as uow:
            now = self._clock()
            tickets = await uow.store_orders.claim_due(now, self._batch_size)
            expired = [t for t in tickets if t.time_out(now)]
            if not expired:
                return 0
            await uow.commit()
        committed = self._clock()  # lateness counts until the rejection is durable
        for ticket in expired:
            assert ticket.accept_by is not None, "only a ticket with a deadline times out"
            late = (committed - ticket.accept_by).total_seconds()
            self.max_lateness = max(self.max_lateness, late)
            log.info(
                "store order %s rejected: not accepted in time (%.3fs after its deadline)",
                ticket.order_id,
                late,
            )
        self.timed_out += len(expired)
        return len(expired)

    async def next_deadline(self) -> datetime | None:
        async with self._uow_factory() as uow:
            return await uow.store_orders.next_deadline()


def max_sleep_for(window: timedelta, ceiling: float = 1.0) -> float:
    """No longer than the window: a ticket registered by another process right after
    a look is then still seen before its deadline."""
    return min(ceiling, window.total_seconds())
