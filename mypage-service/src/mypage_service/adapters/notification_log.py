"""The dispatcher's view of the notification log: what is due, claim, sent, failed.

A row is due when it is PENDING, its retry time (if any) has come, the order's
phone number is known, and no older message of the same order is still PENDING:
one order's messages reach the customer in the order they were decided, even
when an earlier one is waiting out a retry backoff.

Claiming the due rows pushes their retry time out by a lease before the
messages go out, in one transaction that first locks the rows (service_kit.claims:
FOR UPDATE SKIP LOCKED on PostgreSQL), so two dispatchers (two API replicas) never
send one row at the same time, nor wait for each other, and a dispatcher that dies
mid-send leaves its rows to be picked up again once the lease runs out (same dedup
key). What the sends came to (sent, failed, not tried) is written in one more
transaction: two writes per pass of the dispatcher, not two per message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, exists, or_, select, update

from mypage_service.adapters.orm import notifications, order_contact
from mypage_service.domain.notification import NotificationState
from service_kit.claims import claimed
from service_kit.reads import Reads


@dataclass(frozen=True)
class Due:
    notification_id: str
    order_id: str
    status: str
    text: str
    attempts: int  # made so far, before this one
    phone: str = field(repr=False)
    traceparent: str | None = None  # the trace that decided it (telemetry.py)


@dataclass(frozen=True)
class Failed:
    notification_id: str
    error: str  # stored as last_error: never the phone (dispatcher._describe)
    retry_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What one pass did with the rows it claimed until `lease_until`."""

    lease_until: datetime
    sent: list[str] = field(default_factory=list)
    failed: Failed | None = None
    untried: list[str] = field(default_factory=list)  # given back: due again at once


class NotificationLog(ABC):
    @abstractmethod
    async def due(self, now: datetime, limit: int) -> list[Due]:
        """Oldest first."""

    @abstractmethod
    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
        """`due`, each row taken for one attempt (counted) until `lease_until`; none that
        someone else has. `attempts` are the ones made before this one."""

    @abstractmethod
    async def finish(self, outcome: Outcome, at: datetime) -> None:
        """The sent rows SENT at `at`, the failed one to be retried, and the untried
        ones given back (their attempt uncounted) while the lease is still ours."""


# The dispatcher's statements are built once: it runs them a few times a second.
_c = notifications.c
_PENDING = _c.state == NotificationState.PENDING
_earlier = notifications.alias("earlier")
_EARLIER_PENDING = exists().where(
    _earlier.c.order_id == _c.order_id,
    _earlier.c.state == NotificationState.PENDING,
    _earlier.c.created_at < _c.created_at,
)
_IDS = _c.notification_id.in_(bindparam("ids", expanding=True))
_LEASED = _c.next_attempt_at == bindparam("lease")  # still under this lease: ours
_DUE = (
    select(
        _c.notification_id,
        _c.order_id,
        _c.status,
        _c.message,
        _c.attempts,
        order_contact.c.phone,
        _c.traceparent,
    )
    .join(order_contact, order_contact.c.order_id == _c.order_id)
    .where(
        _PENDING,
        or_(_c.next_attempt_at.is_(None), _c.next_attempt_at <= bindparam("now")),
        ~_EARLIER_PENDING,
    )
    .order_by(_c.created_at, _c.notification_id)
    .limit(bindparam("limit"))
)
_CLAIM_DUE = claimed(_DUE, notifications)
_CLAIM = (
    update(notifications)
    .where(_IDS, _PENDING)
    .values(attempts=_c.attempts + 1, next_attempt_at=bindparam("lease"))
)
# last_error stays: the record of what the earlier attempts ran into.
_SENT = (
    update(notifications)
    .where(_IDS, _PENDING)
    .values(state=NotificationState.SENT, sent_at=bindparam("at"))
)
# A retry time is set only while the lease is ours (a row whose lease ran out may
# have been claimed by another dispatcher since).
_FAILED = (
    update(notifications)
    .where(_IDS, _PENDING, _LEASED)
    .values(last_error=bindparam("error"), next_attempt_at=bindparam("retry_at"))
)
_GIVEN_BACK = (
    update(notifications)
    .where(_IDS, _PENDING, _LEASED)
    .values(attempts=_c.attempts - 1, next_attempt_at=None)
)


class SqlNotificationLog(NotificationLog):
    """Each step one transaction, run whole by `reads` (service_kit.reads): what is due
    in a read-only one; a pass's claim, and what became of its rows, in a committed one
    each; in Core, never an ORM session."""

    def __init__(self, reads: Reads) -> None:
        self._reads = reads

    async def due(self, now: datetime, limit: int) -> list[Due]:
        return await self._reads(_due, now, limit)

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
        return await self._reads.write(_claim_due, now, limit, lease_until)

    async def finish(self, outcome: Outcome, at: datetime) -> None:
        await self._reads.write(_finish, outcome, at)


def _due(conn: Connection, now: datetime, limit: int, *, claim: bool = False) -> list[Due]:
    rows = conn.execute(_CLAIM_DUE if claim else _DUE, {"now": now, "limit": limit})
    return [
        Due(r.notification_id, r.order_id, r.status, r.message, r.attempts, r.phone, r.traceparent)
        for r in rows
    ]


def _claim_due(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
    found = _due(conn, now, limit, claim=True)
    if found:
        conn.execute(_CLAIM, {"ids": [d.notification_id for d in found], "lease": lease_until})
    return found


def _finish(conn: Connection, outcome: Outcome, at: datetime) -> None:
    if outcome.sent:
        conn.execute(_SENT, {"ids": outcome.sent, "at": at})
    lease = outcome.lease_until
    if outcome.failed is not None:
        failed = outcome.failed
        conn.execute(
            _FAILED,
            {
                "ids": [failed.notification_id],
                "lease": lease,
                "error": failed.error,
                "retry_at": failed.retry_at,
            },
        )
    if outcome.untried:
        conn.execute(_GIVEN_BACK, {"ids": outcome.untried, "lease": lease})
