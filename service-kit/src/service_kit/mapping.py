"""What every context's tables and mappers share: the state column, the version
column of an aggregate, lines kept as JSON, and mapping classes onto their tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from enum import Enum as PyEnum
from functools import cache
from typing import Any

from sqlalchemy import JSON, Column, Enum, Integer, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator


def states(enum: type[PyEnum]) -> Enum:
    """A state column: a plain VARCHAR without a CHECK, so adding a state later needs
    no migration."""
    return Enum(enum, native_enum=False, create_constraint=False, length=16)


def version_column() -> Column[int]:
    """An aggregate's optimistic lock; `aggregate` makes SQLAlchemy check it."""
    return Column("version", Integer, nullable=False)


Mapping = Callable[[registry], object]  # maps one class when called with the registry


def aggregate(cls: type, table: Table, **properties: Any) -> Mapping:
    """An aggregate onto its table; its `version` turns concurrent updates into
    StaleDataError (the unit of work's ConcurrentChange)."""
    return lambda mappers: mappers.map_imperatively(
        cls, table, version_id_col=table.c.version, properties=properties
    )


def entity(cls: type, table: Table) -> Mapping:
    """A class that lives inside an aggregate (written only with it) onto its table."""
    return lambda mappers: mappers.map_imperatively(cls, table)


def mapped(*mappings: Mapping) -> Callable[[], None]:
    """A context's `start_mappers`: its classes onto its tables, once per process
    however often it is called (every Platform calls it before its first session)."""

    @cache
    def start_mappers() -> None:
        mappers = registry()
        for mapping in mappings:
            mapping(mappers)

    return start_mappers


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
