"""The dispatcher's view of the notification log: what is due, claim, sent, failed.

A row is due when it is PENDING, its retry time (if any) has come, the order's
phone number is known, and no older message of the same order is still PENDING:
one order's messages reach the customer in the order they were decided, even
when an earlier one is waiting out a retry backoff.

Claiming a row pushes its retry time out by a lease before the message goes
out, in a transaction that first locks the row (service_kit.claims: FOR UPDATE
SKIP LOCKED on PostgreSQL), so two dispatchers (two API replicas) never send one
row at the same time, nor wait for each other,
and a dispatcher that dies mid-send leaves the row to be picked up again once
the lease runs out (same dedup key).
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


class NotificationLog(ABC):
    @abstractmethod
    async def due(self, now: datetime, limit: int) -> list[Due]:
        """Oldest first."""

    @abstractmethod
    async def claim(self, notification_id: str, now: datetime, lease_until: datetime) -> bool:
        """Take the row for one attempt (counted); False when someone else has it."""

    @abstractmethod
    async def sent(self, notification_id: str, at: datetime) -> None: ...

    @abstractmethod
    async def failed(self, notification_id: str, error: str, retry_at: datetime) -> None: ...


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

    async def claim(self, notification_id: str, now: datetime, lease_until: datetime) -> bool:
        return await self._reads.write(_claim, notification_id, now, lease_until)

    async def sent(self, notification_id: str, at: datetime) -> None:
        # last_error stays: the record of what the earlier attempts ran into.
        await self._reads.write(_set, notification_id, state=NotificationState.SENT, sent_at=at)

    async def failed(self, notification_id: str, error: str, retry_at: datetime) -> None:
        await self._reads.write(_set, notification_id, last_error=error, next_attempt_at=retry_at)


def _due(conn: Connection, now: datetime, limit: int) -> list[Due]:
    rows = conn.execute(
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
    return [
        Due(r.notification_id, r.order_id, r.status, r.message, r.attempts, r.phone, r.traceparent)
        for r in rows
    ]


def _claim(conn: Connection, notification_id: str, now: datetime, lease_until: datetime) -> bool:
    mine = (notifications.c.notification_id == notification_id, _PENDING, _ready(now))
    if conn.scalar(claimed(select(notifications.c.notification_id).where(*mine))) is None:
        return False
    conn.execute(
        update(notifications)
        .where(*mine)
        .values(attempts=notifications.c.attempts + 1, next_attempt_at=lease_until)
    )
    return True


def _set(conn: Connection, notification_id: str, **values: object) -> None:
    conn.execute(
        update(notifications)
        .where(notifications.c.notification_id == notification_id, _PENDING)
        .values(**values)
    )
