"""The kitchen ticket's own column type (times use service_kit.types.UtcDateTime)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from store_service.domain.store_order import TicketLine


class TicketLines(TypeDecorator[tuple[TicketLine, ...]]):
    """A ticket's lines as one JSON column: fixed once the order is placed and always
    read with the ticket, so no child table and no lazy loads."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else [asdict(line) for line in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[TicketLine, ...] | None:
        return None if value is None else tuple(TicketLine(**line) for line in value)
