"""Shared kernel of the domain layers: the aggregate base and the refusal kinds.

Pure Python, no I/O. Each context subclasses these with its own words, given as
class keywords (`class OrderNotFound(NotFound, what="order")`), so a subclass
without its words fails when it is defined, not when it is first raised; the HTTP
edge maps the kinds to status codes (404, 403, 409, 422) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from shared_events.envelope import Envelope


class DomainError(Exception):
    """A command the domain refused; the message is safe to show the caller."""


class NotFound(DomainError):
    """A subclass names the kind of thing (`what="order"`) and is raised with its id."""

    what: ClassVar[str]

    def __init_subclass__(cls, *, what: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.what = what

    def __init__(self, key: str, where: str = "") -> None:
        super().__init__(f"{self.what} {key} not found{where}")


class Forbidden(DomainError):
    """Someone else's: a subclass words the refusal (`refusal="order {key} belongs to
    another customer"`) and is raised with the key it names."""

    refusal: ClassVar[str]

    def __init_subclass__(cls, *, refusal: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.refusal = refusal

    def __init__(self, key: str = "") -> None:
        super().__init__(self.refusal.format(key=key))


class Conflict(DomainError):
    """The aggregate is in a state that refuses the command; names that state."""

    def __init__(self, message: str, current_state: str | None = None) -> None:
        super().__init__(message)
        self.current_state = current_state


class StateConflict(Conflict):
    """The aggregate's state refuses the command. A subclass words the refusal over the
    aggregate's `key`, its `state` and the words it is raised with (`refusal=
    "delivery {key} is {state}, not {wanted}"`); the 409 names the state."""

    refusal: ClassVar[str]

    def __init_subclass__(cls, *, refusal: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.refusal = refusal

    def __init__(self, key: str, state: StrEnum, **words: object) -> None:
        super().__init__(
            self.refusal.format(key=key, state=state, **words), current_state=state.value
        )


class ConcurrentChange(Conflict):
    """Another transaction changed the aggregate between our read and our write (the
    optimistic version check lost). The repository raises it at the unit of work's
    commit (service_kit.repository), so nothing above it knows the SQL;
    `service_kit.retry` decides the command again."""

    def __init__(self, message: str = "changed concurrently by another request; retry") -> None:
        super().__init__(message)


class InvalidInput(DomainError):
    """422 naming `location` ("body", "header", ...) and the dotted `field` in it."""

    def __init__(self, message: str, field: str | None = None, location: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.location = location


class PaymentDeclined(DomainError):
    pass


@dataclass(frozen=True)
class EventMeta:
    """What a policy knows of the consumed event besides its payload: which fact it
    is and when it happened (a projection's timeline records both), and the story
    it belongs to (what the policy publishes in turn carries it on)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    correlation_id: str | None = None
    causation_id: str | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> EventMeta:
        return cls(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        )


class MissingCause(RuntimeError):
    """A policy was called without the metadata of the event it applies; its facts'
    times would otherwise fall back to the wall clock and depend on arrival."""


def required(meta: EventMeta | None) -> EventMeta:
    """The consumed event's metadata, which policies that record times cannot do without."""
    if meta is None:
        raise MissingCause("apply consumed events through MessageBus.handle_event")
    return meta


class Aggregate:
    """Collects the events its decisions raise until the unit of work commits them.

    An aggregate is a `@dataclass(eq=False)` (identity, not value, makes two
    aggregates the same), or a plain class whose `__init__` calls ours. A field's
    starting value is an `__init__` default or set in `__post_init__`: a loaded
    aggregate is made without `__init__` (service_kit.repository sets its columns),
    so only what the table holds is set on it."""

    events: list[Any]

    def __init__(self) -> None:
        self.events = []

    def __post_init__(self) -> None:
        self.events = []  # a dataclass's generated __init__ calls this, not ours

    def record(self, event: Any) -> None:
        if not hasattr(self, "events"):
            self.events = []  # a loaded instance skipped __init__
        self.events.append(event)

    def pull_events(self) -> list[Any]:
        events, self.events = getattr(self, "events", []), []
        return events
