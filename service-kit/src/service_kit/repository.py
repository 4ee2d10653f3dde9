"""Aggregates kept in one table each, on SQLAlchemy Core: the command path's
repositories (order, store, delivery).

A command or a policy reads one or a few rows and changes one or two; the ORM's
statement building, identity map, attribute events and unit-of-work sort cost more
CPU than the SQL itself. Here a repository reads its rows with statements built
once, makes the plain domain objects itself (as the ORM does, without calling
`__init__`: a loaded aggregate raises no event for being loaded), remembers each
row's version and values, and `save` (at the unit of work's commit, before the
outbox rows) writes what changed: new rows in one executemany, changed ones each
only at the version it was read at. A row that moved since is a ConcurrentChange,
as the ORM's version check was; the layers above decide again on fresh state.

Each dataclass field is the column of its name; `composites` names a value object
kept in several columns (order's delivery address). A mutable value (a JSON dict)
is compared with what was read: the domain replaces it rather than editing it in
place, as the ORM needed too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.db import execute
from service_kit.kernel import ConcurrentChange
from service_kit.uow import SqlRepository

E = TypeVar("E")


class RowRepository(SqlRepository[E]):
    """One aggregate per row of `table`, by its primary key; a context's repository
    names `entity` and `table` and adds its own queries (`_fetch`)."""

    table: ClassVar[Table]
    # A value object's attribute -> its class and the columns it is kept in.
    composites: ClassVar[dict[str, tuple[type, tuple[str, ...]]]] = {}

    _plan: ClassVar[_Plan]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "table" in vars(cls):  # a context's repository: its statements, built once
            cls._plan = _plan_of(cls.table, cls.composites)

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # By key, what was read or last written: the row's version and values.
        self._read: dict[Any, tuple[int, dict[str, Any]]] = {}

    async def get(self, *key: str) -> E | None:
        ident = key[0] if len(key) == 1 else key
        if ident not in self._known:
            plan = self._plan
            found = await self._fetch(plan.by_key, dict(zip(plan.key_params, key, strict=True)))
            if not found:
                self._known[ident] = None
        return self._track(self._known[ident])

    async def load(self, keys: Iterable[str]) -> None:
        """One query for the rows of many (single-column) keys."""
        wanted = set(keys) - self._known.keys()
        if not wanted:
            return
        self._known.update(dict.fromkeys(wanted))
        await self._fetch(self._plan.by_keys, {"keys": sorted(wanted)})

    def add(self, entity: E) -> None:
        """A new aggregate, inserted at the commit (a no-op for one already here)."""
        self._known[self._key_of(self._values(entity))] = self._track(entity)

    async def _fetch(self, statement: Select[Any], params: dict[str, Any] | None = None) -> list[E]:
        """The aggregates of `statement`'s rows (a `select(table)`); one already in
        this unit of work is that same object, as it stands here."""
        rows = (await execute(self._session, statement, params)).mappings().all()
        found = []
        for row in rows:
            values = dict(row)
            version = values.pop("version")
            ident = self._key_of(values)
            known = self._known.get(ident)
            if known is None:
                known = self._known[ident] = self._entity(values)
                self._read[ident] = (version, values)
            found.append(self._track(known))
        return found

    async def save(self) -> None:
        """Write what changed since it was read: new rows, then changed ones, each
        only at the version it was read at (else ConcurrentChange)."""
        plan = self._plan
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        written: list[tuple[Any, int, dict[str, Any]]] = []
        for ident, entity in self._known.items():
            if entity is None:
                continue
            values = self._values(entity)
            read = self._read.get(ident)
            if read is None:
                new.append({**values, "version": 1})
                written.append((ident, 1, values))
            elif values != read[1]:
                at = dict(zip(plan.key_params, _parts(ident), strict=True))
                changed.append(
                    {**{f"new_{k}": v for k, v in values.items()}, **at, "seen": read[0]}
                )
                written.append((ident, read[0] + 1, values))
        if new:
            await execute(self._session, plan.insert, new)
        if changed:
            await write_guarded(self._session, plan.update, changed)
        for ident, version, values in written:
            self._read[ident] = (version, values)

    def _values(self, entity: E) -> dict[str, Any]:
        state = vars(entity)
        values = {name: state[name] for name in self._plan.plain}
        for name, (_, columns) in self.composites.items():
            part = state[name]
            for column, field in zip(columns, dataclasses.fields(part), strict=True):
                values[column] = getattr(part, field.name)
        return values

    def _entity(self, values: dict[str, Any]) -> E:
        """Made as the ORM makes a loaded instance: its state set, `__init__` skipped."""
        entity = self.entity.__new__(self.entity)
        state = vars(entity)
        state.update(values)
        for name, (kind, columns) in self.composites.items():
            state[name] = kind(*(state.pop(column) for column in columns))
        return entity

    def _key_of(self, values: dict[str, Any]) -> Any:
        names = self._plan.key_columns
        return values[names[0]] if len(names) == 1 else tuple(values[name] for name in names)


def _parts(ident: Any) -> tuple[Any, ...]:
    return ident if isinstance(ident, tuple) else (ident,)


async def write_guarded(session: AsyncSession, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Each row only at the version it was read at: one that moved since (another
    transaction changed it) fails the unit of work. One executemany where the driver
    counts its rows (SQLite), else row by row."""
    if session.get_bind().dialect.supports_sane_multi_rowcount:
        batches = [rows]
    else:
        batches = [[row] for row in rows]
    for batch in batches:
        result = await execute(session, statement, batch)
        if result.rowcount != len(batch):
            raise ConcurrentChange()


@dataclasses.dataclass(frozen=True)
class _Plan:
    """A repository's statements, built once: building one (and its cache key) costs
    more than running it."""

    key_columns: tuple[str, ...]
    key_params: tuple[str, ...]
    plain: tuple[str, ...]  # the columns that are attributes of the same name
    by_key: Select[Any]
    by_keys: Select[Any]
    insert: Any
    update: Any


def _plan_of(table: Table, composites: dict[str, tuple[type, tuple[str, ...]]]) -> _Plan:
    keys = tuple(column.name for column in table.primary_key.columns)
    params = tuple(f"key_{name}" for name in keys)
    in_composites = {c for _, columns in composites.values() for c in columns}
    plain = tuple(
        c.name for c in table.columns if c.name != "version" and c.name not in in_composites
    )
    at_key = [table.c[name] == bindparam(param) for name, param in zip(keys, params, strict=True)]
    values = [c.name for c in table.columns if c.name != "version"]
    return _Plan(
        key_columns=keys,
        key_params=params,
        plain=plain,
        by_key=select(table).where(*at_key),
        by_keys=select(table).where(table.c[keys[0]].in_(bindparam("keys", expanding=True))),
        insert=insert(table),
        update=update(table)
        .where(*at_key, table.c.version == bindparam("seen"))
        .values({name: bindparam(f"new_{name}") for name in values})
        .values(version=table.c.version + 1),
    )
