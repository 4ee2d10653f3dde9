"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from store_service.domain.store_order import TicketLine


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: SQLite keeps no offset and hands back naive values,
    which could then not be compared with the envelopes' aware times."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times are UTC and carry their offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class TicketLines(TypeDecorator[tuple[TicketLine, ...]]):
    """A ticket's lines as one JSON column: fixed once the order is placed and always
    read with the ticket, so no child table and no lazy loads."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else [asdict(line) for line in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[TicketLine, ...] | None:
        return None if value is None else tuple(TicketLine(**line) for line in value)
