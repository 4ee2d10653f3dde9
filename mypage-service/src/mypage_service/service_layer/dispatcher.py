"""Sends the decided notifications: a background loop in the mypage API process.

The status change and its notification row committed together long before this
loop sees the row, so nothing here can hold up or undo a status update. A
notifier that is down leaves its rows PENDING; each row is retried with its own
exponential backoff, forever: nothing is dropped. One order's messages go out in
the order they were decided (see adapters.notification_log), so a message the
gateway keeps refusing holds up its own order's later ones, never another order's.

Delivery to the gateway is at least once; the notification id travels as the
dedup key, so a resend after a crash between "sent" and "marked SENT" is
recognised as the same message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mypage_service.adapters.notification_log import Due, Failed, NotificationLog, Outcome
from mypage_service.adapters.notifier import Message, Notifier, NotifierError
from service_kit import telemetry
from service_kit.claims import ClaimLoop, Claims, EndPass, Pacing
from shared_events.envelope import utcnow

log = logging.getLogger(__name__)

ERROR_LIMIT = 500


@dataclass(frozen=True)
class DispatchPolicy:
    # Seconds between looks when nothing was due: a backstop only, as the relay's is.
    # Every worker commit that decides a message (or the phone it waits for) changes
    # its order's status row, and that change wakes the loop (entrypoints.api); the
    # poll finds what no wake announces: a lost wake, a retry or a lease falling due.
    poll_interval: float = 1.0
    # A wake comes with every worker commit that changes an order, several a lifecycle:
    # a pass follows the first by this long and takes what the others brought too,
    # rather than one look per commit (a message goes out within this of its decision).
    settle: float = 0.1
    batch_size: int = 20
    backoff_initial: float = 0.5  # first retry of a row after this many seconds ...
    backoff_max: float = 60.0  # ... doubling per attempt up to this
    lease: float = 60.0  # a claimed row is someone's for this long (> one send with retries)

    @property
    def pacing(self) -> Pacing:
        """The loop's: a failing pass backs off as a failing message does (backoff)."""
        return Pacing(
            self.poll_interval, self.batch_size, self.backoff_initial, self.backoff_max, self.settle
        )

    def backoff(self, attempts: int) -> float:
        return min(self.backoff_max, self.backoff_initial * 2.0 ** max(attempts - 1, 0))


class Notifications(Claims[Due, NotificationLog]):
    """The notifications left PENDING, each sent once. Worked off by a ClaimLoop
    (`run()` until `stop()`, finishing the message in flight). A pass claims its due
    rows at once (a lease, taken with FOR UPDATE SKIP LOCKED on PostgreSQL) before any
    goes out, so two API replicas never send one message; the lease, not a held
    transaction, covers the sends, and what they came to is written at once when the
    pass ends (`finish`): two transactions per pass, not two per message."""

    def __init__(
        self, notifier: Notifier, policy: DispatchPolicy, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._notifier = notifier
        self._policy = policy
        self._clock = clock
        self._pass = Outcome(clock())  # the pass under way, claimed in `due`

    def failed(self, item: Due, exc: Exception) -> None:
        log.warning("notification %s: %s", item.notification_id, type(exc).__name__)

    async def close(self) -> None:
        await self._notifier.aclose()

    async def due(self, uow: NotificationLog, limit: int) -> list[Due]:
        now = self._clock()
        lease_until = now + timedelta(seconds=self._policy.lease)
        claimed = await uow.claim_due(now, limit, lease_until)
        self._pass = Outcome(lease_until, untried=[d.notification_id for d in claimed])
        return claimed

    async def act(self, uow: NotificationLog, item: Due) -> int:
        # A send starts only with half the lease left (more than one send with its
        # retries takes), so no send outlives the claim; the rest is given back.
        if self._clock() + timedelta(seconds=self._policy.lease / 2) > self._pass.lease_until:
            raise EndPass
        self._pass.untried.remove(item.notification_id)
        attempts = item.attempts + 1
        message = Message(item.notification_id, item.order_id, item.status, item.text, item.phone)
        try:
            with telemetry.continued(item.traceparent, "send KakaoTalk", status=item.status):
                await self._notifier.send(message)
        except Exception as exc:
            error = _describe(exc)
            retry_at = self._clock() + timedelta(seconds=self._policy.backoff(attempts))
            log.warning(
                "notification %s (order %s, %s) not sent, attempt %d: %s; retry at %s",
                item.notification_id,
                item.order_id,
                item.status,
                attempts,
                error,
                retry_at.isoformat(),
            )
            self._pass = replace(self._pass, failed=Failed(item.notification_id, error, retry_at))
            # The first refusal ends the pass: a notifier that is down gets one try
            # per poll, not one per pending row.
            raise EndPass from exc
        self._pass.sent.append(item.notification_id)
        return 1

    async def finish(self, uow: NotificationLog) -> None:
        await uow.finish(self._pass, self._clock())


def notification_loop(
    notification_log: NotificationLog,
    notifier: Notifier,
    policy: DispatchPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ClaimLoop[Due, NotificationLog]:
    """The loop that sends the due notifications, paced by `policy`."""
    policy = policy or DispatchPolicy()
    # The log's steps are transactions of their own: the loop's unit is the log itself.
    return ClaimLoop(
        lambda: nullcontext(notification_log), Notifications(notifier, policy, clock), policy.pacing
    )


def _describe(exc: Exception) -> str:
    """What is stored as last_error: a notifier's own words (which never carry the
    phone), otherwise only the kind of failure."""
    if isinstance(exc, NotifierError):
        return f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
    return type(exc).__name__
