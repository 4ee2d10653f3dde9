"""Shared kernel of the domain layers: the aggregate base and the refusal kinds.

Pure Python, no I/O. Each context subclasses these with its own words; the
HTTP edge maps the kinds to status codes (404, 403, 409, 422) in one place.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command the domain refused; the message is safe to show the caller."""


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    """The aggregate is in a state that refuses the command; names that state."""

    def __init__(self, message: str, current_state: str | None = None) -> None:
        super().__init__(message)
        self.current_state = current_state


class InvalidInput(DomainError):
    """422 naming `location` ("body", "header", ...) and the dotted `field` in it."""

    def __init__(self, message: str, field: str | None = None, location: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.location = location


class PaymentDeclined(DomainError):
    pass


class Aggregate:
    """Collects the events its decisions raise until the unit of work commits them."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def record(self, event: Any) -> None:
        if not hasattr(self, "events"):
            self.events = []  # an instance the ORM loaded skips __init__
        self.events.append(event)

    def pull_events(self) -> list[Any]:
        events, self.events = getattr(self, "events", []), []
        return events
