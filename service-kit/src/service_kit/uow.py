"""Unit of work base: one transaction holding aggregate changes, the outbox rows
for the events they raised, and the inbox record of the event being handled.

A service subclasses `UnitOfWork` to declare its repositories as annotated
attributes (`orders: OrderRepository`), then `SqlAlchemyUnitOfWork` (or
`FakeUnitOfWork` in its unit tests) to run them. At the commit each repository
`save`s what changed (its rows, on Core), then the outbox rows are staged and the
transaction commits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, Protocol, Self, TypeVar, get_type_hints

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.inbox import Inbox, MemoryInbox
from service_kit.kernel import Aggregate, EventMeta
from service_kit.outbox import stage
from shared_events.contract import Payload
from shared_events.envelope import Envelope, wrap


@dataclass(frozen=True)
class Trace:
    """Where a change came from: the story (correlation) and the event that caused it."""

    correlation_id: str | None = None
    causation_id: str | None = None

    @classmethod
    def caused_by(cls, meta: EventMeta) -> Trace:
        """What a policy publishes carries on the story of the event it applies."""
        return cls(meta.correlation_id, meta.event_id)


T = TypeVar("T")
E = TypeVar("E")


class Repository:
    """Remembers the aggregates it handed out so their events can be collected."""

    def __init__(self) -> None:
        self.seen: set[Aggregate] = set()

    def _track(self, aggregate: T) -> T:
        if isinstance(aggregate, Aggregate):  # only aggregates raise events
            self.seen.add(aggregate)
        return aggregate

    async def load(self, keys: Iterable[str]) -> None:
        """Fetch ahead what `get` will be asked for (a batch of consumed events);
        an in-memory repository has everything at hand already."""

    async def save(self) -> None:
        """Write what changed into the unit of work's transaction, at its commit."""


class SqlRepository(Repository, Generic[E]):
    """One kind of row on the unit of work's session, by key: order, store, delivery
    and identity keep theirs on Core (service_kit.repository.RowRepository), mypage its
    read model (its adapters). A context's repository names its `entity`."""

    entity: type[E]

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session
        # By key, what was read (None: no such row) and what was added since: `get`
        # answers these without a query.
        self._known: dict[Any, E | None] = {}

    @abstractmethod
    async def get(self, *key: str) -> E | None: ...

    @abstractmethod
    def add(self, entity: E) -> None: ...


@cache
def declared_repositories(uow_class: type) -> dict[str, type[SqlRepository[Any]]]:
    """The repositories a unit of work class declares, by attribute name."""
    return {
        name: kind
        for name, kind in get_type_hints(uow_class).items()
        if isinstance(kind, type) and issubclass(kind, SqlRepository)
    }


class Changes(Protocol):
    """Who hears which keys a commit changed: the API process's live views and loops
    (`service_kit.runtime.Platform`, over `service_kit.wake`)."""

    async def changing(self, session: AsyncSession, keys: Collection[str]) -> None:
        """In the transaction, before its commit (PostgreSQL's NOTIFY goes with it)."""

    def changed(self, keys: Collection[str]) -> None:
        """Once committed (SQLite's datagram)."""


class UnitOfWork(ABC):
    producer: str
    inbox: Inbox | MemoryInbox
    trace: Trace = Trace()

    def __init__(self) -> None:
        self.internal_events: list[Any] = []
        self.staged: list[Envelope] = []
        self._collected: list[Envelope] = []

    async def __aenter__(self) -> Self:
        self.internal_events = []
        self.staged = []
        self._collected = []
        return self

    def checkpoint(self) -> None:
        """Wrap the events raised so far under the current trace: a batch of consumed
        events shares one unit of work, and each follow-up carries its own cause."""
        self._collected.extend(self._envelopes())

    def _take_envelopes(self) -> list[Envelope]:
        envelopes, self._collected = [*self._collected, *self._envelopes()], []
        return envelopes

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()

    def repositories(self) -> Iterable[Repository]:
        return [getattr(self, name) for name in declared_repositories(type(self))]

    def collect_new_events(self) -> Iterator[Any]:
        for repository in self.repositories():
            for aggregate in repository.seen:
                yield from aggregate.pull_events()

    def _envelopes(self) -> list[Envelope]:
        """Published events become envelopes; internal ones wait for the bus."""
        envelopes = []
        for event in self.collect_new_events():
            if isinstance(event, Payload):
                envelopes.append(
                    wrap(
                        event,
                        producer=self.producer,
                        correlation_id=self.trace.correlation_id,
                        causation_id=self.trace.causation_id,
                    )
                )
            else:
                self.internal_events.append(event)
        return envelopes

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        producer: str,
        trace: Trace | None = None,
        on_commit: Callable[[], None] | None = None,
        on_stage: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        self._sessions = sessions
        self.producer = producer
        self.trace = trace or Trace()
        # Told of staged events: inside the transaction (on_stage), after it (on_commit).
        self._on_commit = on_commit
        self._on_stage = on_stage
        self.session: AsyncSession | None = None

    def bind(self, session: AsyncSession) -> None:
        """Create each declared repository on the new session."""
        for name, repository in declared_repositories(type(self)).items():
            setattr(self, name, repository(session))

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.session = self._sessions()
        self.inbox = Inbox(self.session, self.producer)
        self.bind(self.session)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.rollback()
        finally:
            if self.session is not None:
                await self.session.close()

    async def commit(self) -> None:
        assert self.session is not None, "use the unit of work in `async with`"
        # A row that moved since it was read fails its repository's save with
        # ConcurrentChange, before any event is staged.
        for repository in self.repositories():
            await repository.save()
        envelopes = self._take_envelopes()
        await stage(self.session, envelopes)
        if envelopes and self._on_stage is not None:
            await self._on_stage(self.session)
        await self.session.commit()
        self.staged.extend(envelopes)
        if envelopes and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        if self.session is not None:
            await self.session.rollback()


class FakeUnitOfWork(UnitOfWork):
    """For unit tests: repositories in memory, `committed` and `staged` to assert on."""

    def __init__(self, producer: str) -> None:
        super().__init__()
        self.producer = producer
        self.inbox = MemoryInbox()
        self.committed = False
        self.published: list[Envelope] = []

    async def commit(self) -> None:
        envelopes = self._take_envelopes()
        self.staged.extend(envelopes)
        self.published.extend(envelopes)
        if isinstance(self.inbox, MemoryInbox):
            self.inbox.commit()
        self.committed = True

    async def rollback(self) -> None:
        if isinstance(self.inbox, MemoryInbox):
            self.inbox.rollback()
