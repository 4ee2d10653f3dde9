"""What every context's tables share: the state column, the version column of an
aggregate, and lines kept as JSON."""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum as PyEnum
from typing import Any

from sqlalchemy import JSON, Column, Enum, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def states(enum: type[PyEnum]) -> Enum:
    """A state column: a plain VARCHAR without a CHECK, so adding a state later needs
    no migration."""
    return Enum(enum, native_enum=False, create_constraint=False, length=16)


def version_column() -> Column[int]:
    """An aggregate's optimistic lock: service_kit.repository writes a row only at the
    version it was read at."""
    return Column("version", Integer, nullable=False)


class JsonLines(TypeDecorator[tuple[Any, ...]]):
    """A row's lines (flat dataclasses) as one JSON column: they are fixed when the row
    is created and always read with it, so no child table and no lazy loads."""

    impl = JSON
    cache_ok = True

    def __init__(self, line: type) -> None:
        super().__init__()
        self.line = line  # named as the argument, so SQLAlchemy can cache the type

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[dict[str, Any]] | None:
        return None if value is None else [asdict(line) for line in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[Any, ...] | None:
        return None if value is None else tuple(self.line(**line) for line in value)
