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
from dataclasses import dataclass
from datetime import datetime, timedelta

from mypage_service.adapters.notification_log import Due, NotificationLog
from mypage_service.adapters.notifier import Message, Notifier, NotifierError
from service_kit import telemetry
from service_kit.loop import WorkLoop
from shared_events.envelope import utcnow

log = logging.getLogger(__name__)

ERROR_LIMIT = 500


@dataclass(frozen=True)
class DispatchPolicy:
    poll_interval: float = 0.2  # seconds between polls when nothing was due
    batch_size: int = 20
    backoff_initial: float = 0.5  # first retry of a row after this many seconds ...
    backoff_max: float = 60.0  # ... doubling per attempt up to this
    lease: float = 60.0  # a claimed row is someone's for this long (> one send with retries)

    def backoff(self, attempts: int) -> float:
        return min(self.backoff_max, self.backoff_initial * 2.0 ** max(attempts - 1, 0))


class NotificationDispatcher(WorkLoop):
    """A WorkLoop: `run()` until `stop()`, finishing the message in flight. A pass
    that fails (the database away, say) is retried with the policy's backoff."""

    def __init__(
        self,
        notification_log: NotificationLog,
        notifier: Notifier,
        policy: DispatchPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._policy = policy = policy or DispatchPolicy()
        # A failing pass backs off as a failing message does (DispatchPolicy.backoff).
        super().__init__(
            self.dispatch_once, policy.poll_interval, policy.backoff_initial, policy.backoff_max
        )
        self._log = notification_log
        self._notifier = notifier
        self._clock = clock
        self.sent = 0
        self.failures = 0

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        # Never the exception's text: a database error may quote a phone number.
        log.warning(
            "notification dispatch failed (%s); again in %.1fs", type(exc).__name__, retry_in
        )

    async def close(self) -> None:
        await self._notifier.aclose()

    async def dispatch_once(self) -> bool:
        """Try the due rows, oldest first; True when all went out (the next message
        of those orders may be due right away). The first failure ends the batch:
        a notifier that is down gets one try per poll, not one per pending row."""
        due = await self._log.due(self._clock(), self._policy.batch_size)
        for row in due:
            if self._stopping.is_set() or not await self._attempt(row):
                return False
        return bool(due)

    async def _attempt(self, row: Due) -> bool:
        now = self._clock()
        if not await self._log.claim(
            row.notification_id, now, now + timedelta(seconds=self._policy.lease)
        ):
            return True  # another dispatcher has it
        attempts = row.attempts + 1
        message = Message(row.notification_id, row.order_id, row.status, row.text, row.phone)
        try:
            with telemetry.continued(row.traceparent, "send KakaoTalk", status=row.status):
                await self._notifier.send(message)
        except Exception as exc:
            self.failures += 1
            error = _describe(exc)
            retry_at = self._clock() + timedelta(seconds=self._policy.backoff(attempts))
            log.warning(
                "notification %s (order %s, %s) not sent, attempt %d: %s; retry at %s",
                row.notification_id,
                row.order_id,
                row.status,
                attempts,
                error,
                retry_at.isoformat(),
            )
            await self._log.failed(row.notification_id, error, retry_at)
            return False
        await self._log.sent(row.notification_id, self._clock())
        self.sent += 1
        return True


def _describe(exc: Exception) -> str:
    """What is stored as last_error: a notifier's own words (which never carry the
    phone), otherwise only the kind of failure."""
    if isinstance(exc, NotifierError):
        return f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
    return type(exc).__name__
