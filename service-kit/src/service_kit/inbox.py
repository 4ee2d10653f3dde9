"""Inbox: the ids of the events a consumer has applied, kept in its own transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.tables import inbox
from shared_events.envelope import Envelope, utcnow


class Inbox:
    """Bound to one session: `seen` and `record` share the handler's transaction,
    so an event is marked processed exactly when its effects commit."""

    def __init__(self, session: AsyncSession, consumer: str) -> None:
        self._session = session
        self._consumer = consumer

    async def seen(self, envelope: Envelope) -> bool:
        return bool(await self.seen_among([envelope]))

    async def seen_among(self, envelopes: Sequence[Envelope]) -> set[str]:
        """The ids of these events applied already: one query for a consumed batch."""
        ids = sorted({str(e.event_id) for e in envelopes})
        found = await _execute(self._session, _SEEN, {"consumer": self._consumer, "ids": ids})
        return set(found.scalars())

    async def record(self, envelope: Envelope) -> None:
        await self.record_all([envelope])

    async def claim(self, envelope: Envelope) -> bool:
        """Record the event's id unless it is there already: True when this
        transaction recorded it (so applies it), False for a redelivery. One
        statement where `seen` then `record` take two. A racing duplicate waits for
        the first one's transaction (PostgreSQL) or its write lock (SQLite)."""
        dialect = self._session.get_bind().dialect.name
        result = await _execute(
            self._session,
            _CLAIM["postgresql" if dialect == "postgresql" else "sqlite"],
            {
                "consumer": self._consumer,
                "event_id": str(envelope.event_id),
                "event_type": envelope.event_type,
                "processed_at": utcnow(),
            },
        )
        return bool(cast(CursorResult[Any], result).rowcount)

    async def record_all(self, envelopes: Sequence[Envelope]) -> None:
        # The primary key makes a racing duplicate fail its commit (and be retried,
        # after which `seen` skips it) instead of applying twice. One statement for
        # a batch (executemany).
        if not envelopes:
            return
        now = utcnow()
        await _execute(
            self._session,
            _RECORD,
            [
                {
                    "consumer": self._consumer,
                    "event_id": str(e.event_id),
                    "event_type": e.event_type,
                    "processed_at": now,
                }
                for e in envelopes
            ],
        )


# Built once: a statement's construction and cache key cost more than running it.
_SEEN = select(inbox.c.event_id).where(
    inbox.c.consumer == bindparam("consumer"),
    inbox.c.event_id.in_(bindparam("ids", expanding=True)),
)
_RECORD = insert(inbox)
_CLAIM = {
    "postgresql": postgresql_insert(inbox).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(inbox).on_conflict_do_nothing(),
}


async def _execute(session: AsyncSession, statement: Any, params: Any) -> Any:
    """On the session's connection, in its transaction: a Core statement needs none of
    the ORM session's execution steps (and it must not autoflush: the unit of work
    flushes once, at its commit)."""
    return await session.run_sync(lambda sync: sync.connection().execute(statement, params))


class MemoryInbox:
    """The in-memory inbox of fake units of work in unit tests."""

    def __init__(self) -> None:
        self.processed: set[str] = set()
        self._staged: set[str] = set()

    async def seen(self, envelope: Envelope) -> bool:
        # Like a transaction, it sees what it recorded itself before committing.
        event_id = str(envelope.event_id)
        return event_id in self.processed or event_id in self._staged

    async def seen_among(self, envelopes: Sequence[Envelope]) -> set[str]:
        return {str(e.event_id) for e in envelopes if await self.seen(e)}

    async def record(self, envelope: Envelope) -> None:
        self._staged.add(str(envelope.event_id))

    async def claim(self, envelope: Envelope) -> bool:
        if await self.seen(envelope):
            return False
        await self.record(envelope)
        return True

    async def record_all(self, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            await self.record(envelope)

    def commit(self) -> None:
        self.processed |= self._staged
        self._staged.clear()

    def rollback(self) -> None:
        self._staged.clear()


class InboxUnitOfWork(Protocol):
    inbox: Inbox | MemoryInbox

    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> Any: ...
    async def commit(self) -> None: ...


async def apply_once(
    uow: InboxUnitOfWork,
    envelope: Envelope,
    apply: Callable[[], Awaitable[None]],
) -> bool:
    """Apply an event's effects and record its id in one transaction.

    Returns False when the event was already applied (a redelivery)."""
    async with uow:
        if not await uow.inbox.claim(envelope):
            return False
        await apply()
        await uow.commit()
        return True
