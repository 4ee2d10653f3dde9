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

from sqlalchemy import Connection, exists, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

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


_PENDING = notifications.c.state == NotificationState.PENDING
_earlier = notifications.alias("earlier")
_EARLIER_PENDING = exists().where(
    _earlier.c.order_id == notifications.c.order_id,
    _earlier.c.state == NotificationState.PENDING,
    _earlier.c.created_at < notifications.c.created_at,
)


def _ready(now: datetime) -> ColumnElement[bool]:
    return or_(notifications.c.next_attempt_at.is_(None), notifications.c.next_attempt_at <= now)


class SqlNotificationLog(NotificationLog):
    """Each step one transaction, run whole by `reads` (service_kit.reads): what is due
    in a read-only one, claim and marks in a committed one of their own; on SQLite
    each is one thread hop, in Core, never an ORM session."""

    def __init__(self, reads: Reads) -> None:
        self._reads = reads

    async def due(self, now: datetime, limit: int) -> list[Due]:
        return await self._reads(_due, now, limit)

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
        return await self._reads.write(_claim_due, now, limit, lease_until)

    async def finish(self, outcome: Outcome, at: datetime) -> None:
        await self._reads.write(_finish, outcome, at)


def _due(conn: Connection, now: datetime, limit: int, *, claim: bool = False) -> list[Due]:
    query = (
        select(
            notifications.c.notification_id,
            notifications.c.order_id,
            notifications.c.status,
            notifications.c.message,
            notifications.c.attempts,
            order_contact.c.phone,
            notifications.c.traceparent,
        )
        .join(order_contact, order_contact.c.order_id == notifications.c.order_id)
        .where(_PENDING, _ready(now), ~_EARLIER_PENDING)
        .order_by(notifications.c.created_at, notifications.c.notification_id)
        .limit(limit)
    )
    rows = conn.execute(claimed(query, notifications) if claim else query)
    return [
        Due(r.notification_id, r.order_id, r.status, r.message, r.attempts, r.phone, r.traceparent)
        for r in rows
    ]


def _claim_due(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[Due]:
    found = _due(conn, now, limit, claim=True)
    if found:
        conn.execute(
            update(notifications)
            .where(_ours([d.notification_id for d in found]))
            .values(attempts=notifications.c.attempts + 1, next_attempt_at=lease_until)
        )
    return found


def _finish(conn: Connection, outcome: Outcome, at: datetime) -> None:
    if outcome.sent:
        # last_error stays: the record of what the earlier attempts ran into.
        conn.execute(
            update(notifications)
            .where(_ours(outcome.sent))
            .values(state=NotificationState.SENT, sent_at=at)
        )
    # A retry time is set only while the lease is ours (a row whose lease ran out
    # may have been claimed by another dispatcher since).
    if outcome.failed is not None:
        conn.execute(
            update(notifications)
            .where(_ours([outcome.failed.notification_id], outcome.lease_until))
            .values(last_error=outcome.failed.error, next_attempt_at=outcome.failed.retry_at)
        )
    if outcome.untried:
        conn.execute(
            update(notifications)
            .where(_ours(outcome.untried, outcome.lease_until))
            .values(attempts=notifications.c.attempts - 1, next_attempt_at=None)
        )


def _ours(notification_ids: list[str], lease_until: datetime | None = None) -> ColumnElement[bool]:
    """These PENDING rows (and still under that lease)."""
    mine = notifications.c.notification_id.in_(notification_ids) & _PENDING
    if lease_until is None:
        return mine
    return mine & (notifications.c.next_attempt_at == lease_until)
