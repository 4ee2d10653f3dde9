"""The acceptance timer: rejects every ticket still RECEIVED when its window ends.

A BackgroundLoop of the API process (beside the outbox relay). The deadlines are
rows (`store_orders.accept_by`), so the timer holds no state of its own and
survives any restart: a deadline that passed while the service was down is simply
due at the first look after start.

* Each look reads a bounded batch of due RECEIVED tickets through the
  (status, accept_by) index and rejects each in a unit of work of its own that
  claims it (service_kit.claims: FOR UPDATE SKIP LOCKED on PostgreSQL), decides it
  in the domain (`StoreOrder.time_out`) and commits it with its OrderRejected
  outbox row. So two API replicas never reject one ticket, and an owner's accept
  racing the deadline either committed first (the ticket is no longer RECEIVED and
  is not claimed) or waits for the lock and then loses the version check (409
  naming REJECTED): exactly one wins, and a ticket times out once.
* A look that rejected something is followed at once by the next one; after an
  idle look it sleeps until the earliest deadline, at most `max_sleep`, and is
  woken early by wake() when a ticket is registered in this process. Tickets
  are registered by the worker process, so the bounded sleep is what finds them:
  with `max_sleep` no longer than the window, a new deadline is always seen
  before it passes.
* A failed look (database away) is retried with exponential backoff, never dropped
  (service_kit.claims.ClaimLoop runs the looks, the waits and the retries over
  `OverdueTickets`, which only says what is due, how to reject one, and how long an
  idle wait lasts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from service_kit.claims import Claims
from store_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MIN_SLEEP = 0.01


def seconds_until(deadline: datetime | None, now: datetime, max_sleep: float) -> float:
    """How long to sleep before the next look: until `deadline`, within [0, max_sleep]."""
    if deadline is None:
        return max_sleep
    return min(max(0.0, (deadline - now).total_seconds()), max_sleep)


class OverdueTickets(Claims[str, UnitOfWork]):
    """The tickets still RECEIVED after their acceptance window: each rejected once."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # How long after its deadline a ticket was rejected, at most (seconds).
        self.max_lateness = 0.0

    async def idle_seconds(self, uow: UnitOfWork, poll_interval: float) -> float:
        """Until the earliest deadline, at most the poll interval."""
        deadline = await uow.store_orders.next_deadline()
        # A floor, so a due ticket another transaction holds locked (skipped by the
        # claim) is looked at again shortly rather than in a busy loop.
        return max(MIN_SLEEP, seconds_until(deadline, self._clock(), poll_interval))

    async def due(self, uow: UnitOfWork, limit: int) -> list[str]:
        return await uow.store_orders.due(self._clock(), limit)

    async def act(self, uow: UnitOfWork, item: str) -> int:
        now = self._clock()
        ticket = await uow.store_orders.claim_due(item, now)
        if ticket is None or not ticket.time_out(now):
            return 0  # decided meanwhile, or another replica has it
        await uow.commit()
        # Lateness counts until the rejection is durable.
        assert ticket.accept_by is not None, "only a ticket with a deadline times out"
        late = (self._clock() - ticket.accept_by).total_seconds()
        self.max_lateness = max(self.max_lateness, late)
        log.info(
            "store order %s rejected: not accepted in time (%.3fs after its deadline)",
            ticket.order_id,
            late,
        )
        return 1


def max_sleep_for(window: timedelta, ceiling: float = 1.0) -> float:
    """No longer than the window: a ticket registered by another process right after
    a look is then still seen before its deadline."""
    return min(ceiling, window.total_seconds())
