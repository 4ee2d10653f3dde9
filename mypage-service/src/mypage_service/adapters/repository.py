"""Repositories of the Customer context: the `order_status` read model and the
customers' contact details, on SQLAlchemy Core.

The projection is the mypage worker's whole work, one batch of events per
transaction: the ORM's identity map, attribute events, unit-of-work sort and
per-row statements were most of its CPU. Here a batch's rows are read in one query
per table (`load`), the plain domain objects are folded in memory, and `save` (at
the unit of work's commit) writes what changed with one executemany per kind of
change. The version column still guards `order_status` as the ORM's did: an update
names the version it read, and a lost race is a ConcurrentChange.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BindParameter, Table, and_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mypage_service.adapters.orm import notifications, order_contact, order_status, order_timeline
from mypage_service.domain.model import OrderStatusView, TimelineEntry
from mypage_service.domain.notification import Notification, OrderContact
from service_kit.db import execute
from service_kit.repository import write_guarded
from service_kit.uow import SqlRepository

# The columns of order_status the projection writes, besides its key and version.
_DETAILS = (
    "status",
    "customer_id",
    "store_id",
    "total_amount",
    "items",
    "placed_at",
    "updated_at",
    "rejected_by",
)
_NOTIFICATION = (
    "notification_id",
    "order_id",
    "customer_id",
    "status",
    "message",
    "state",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "next_attempt_at",
)


def _row(view: OrderStatusView) -> tuple[Any, ...]:
    return tuple(getattr(view, name) for name in _DETAILS)


def _entry(entry: TimelineEntry) -> tuple[Any, ...]:
    return entry.at, entry.event_type, entry.event_id


class _Read:
    """An order as it was read: its version and the values to tell a change by."""

    def __init__(self, view: OrderStatusView, version: int) -> None:
        self.version = version
        self.row = _row(view)
        self.timeline = {entry.status: _entry(entry) for entry in view.timeline}
        self.customers = {n.notification_id: n.customer_id for n in view.notifications}


class OrderStatusRepository(SqlRepository[OrderStatusView]):
    """By order id: the status row with its timeline and notifications."""

    entity = OrderStatusView

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._read: dict[str, _Read] = {}  # what `load` found, by order id

    async def get(self, *key: str) -> OrderStatusView | None:
        (order_id,) = key
        if order_id not in self._known:
            await self.load([order_id])
        return self._track(self._known[order_id])

    def add(self, entity: OrderStatusView) -> None:
        self._known[entity.order_id] = self._track(entity)

    async def load(self, keys: Iterable[str]) -> None:
        wanted = set(keys) - self._known.keys()
        if not wanted:
            return
        self._known.update(dict.fromkeys(wanted))
        views: dict[str, OrderStatusView] = {}
        versions: dict[str, int] = {}
        for row in await self._rows(order_status, wanted):
            values = row._mapping
            views[row.order_id] = OrderStatusView(
                row.order_id, **{name: values[name] for name in _DETAILS}
            )
            versions[row.order_id] = row.version
        if views:
            for row in await self._rows(order_timeline, views.keys()):
                views[row.order_id].timeline.append(
                    TimelineEntry(row.status, row.at, row.event_type, row.event_id)
                )
            for row in await self._rows(notifications, views.keys()):
                views[row.order_id].notifications.append(_notification(row._mapping))
        for order_id, view in views.items():
            self._known[order_id] = view
            self._read[order_id] = _Read(view, versions[order_id])

    async def save(self) -> None:
        """Write what the unit of work's events changed: new rows inserted, changed
        ones updated (a status row only at the version it was read at)."""
        plan = _Plan()
        for view in self.seen:
            if isinstance(view, OrderStatusView):
                plan.add(view, self._read.get(view.order_id))
        await plan.run(self._session)
        # Written: the next save (a later commit of this unit of work) starts from here.
        for view in self.seen:
            if isinstance(view, OrderStatusView):
                read = self._read.get(view.order_id)
                version = 1 if read is None else read.version + (_row(view) != read.row)
                self._read[view.order_id] = _Read(view, version)

    async def _rows(self, table: Table, keys: Iterable[str]) -> Sequence[Any]:
        result = await execute(self._session, _BY_ORDER[table.name], {"keys": sorted(keys)})
        return result.all()


class _Plan:
    """The statements of one save, each an executemany over its rows."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.new_entries: list[dict[str, Any]] = []
        self.moved_entries: list[dict[str, Any]] = []
        self.new_notifications: list[dict[str, Any]] = []
        self.addressed: list[dict[str, Any]] = []

    def add(self, view: OrderStatusView, read: _Read | None) -> None:
        row = dict(zip(_DETAILS, _row(view), strict=True))
        if read is None:
            self.created.append({"order_id": view.order_id, "version": 1, **row})
        elif _row(view) != read.row:
            self.updated.append({"key": view.order_id, "seen": read.version, **row})
        before = read.timeline if read is not None else {}
        for entry in view.timeline:
            values: dict[str, Any] = {"order_id": view.order_id, "status": entry.status}
            values |= {"at": entry.at, "event_type": entry.event_type, "event_id": entry.event_id}
            if entry.status not in before:
                self.new_entries.append(values)
            elif _entry(entry) != before[entry.status]:
                self.moved_entries.append({f"new_{k}": v for k, v in values.items()})
        customers = read.customers if read is not None else {}
        for n in view.notifications:
            if n.notification_id not in customers:
                self.new_notifications.append({k: getattr(n, k) for k in _NOTIFICATION})
            elif n.customer_id != customers[n.notification_id]:
                self.addressed.append({"key": n.notification_id, "new_customer": n.customer_id})

    async def run(self, session: AsyncSession) -> None:
        if self.created:
            await execute(session, _INSERT["order_status"], self.created)
        if self.updated:
            await write_guarded(session, _UPDATE_STATUS, self.updated)
        if self.new_entries:
            await execute(session, _INSERT["order_timeline"], self.new_entries)
        if self.moved_entries:
            await execute(session, _MOVE_ENTRY, self.moved_entries)
        if self.new_notifications:
            await execute(session, _INSERT["notifications"], self.new_notifications)
        if self.addressed:
            await execute(session, _ADDRESS, self.addressed)


# Built once: a statement's construction and cache key cost more than running it.
_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_BY_ORDER = {
    table.name: select(table).where(table.c.order_id.in_(_KEYS)).order_by(*order)
    for table, order in (
        (order_status, ()),
        (order_timeline, (order_timeline.c.at,)),
        (notifications, (notifications.c.created_at,)),
        (order_contact, ()),
    )
}
_INSERT = {table.name: insert(table) for table in (order_status, order_timeline, notifications)}
_INSERT_CONTACT = {  # the first phone stays
    "postgresql": postgresql_insert(order_contact).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(order_contact).on_conflict_do_nothing(),
}
_UPDATE_STATUS = (
    update(order_status)
    .where(
        order_status.c.order_id == bindparam("key"),
        order_status.c.version == bindparam("seen"),
    )
    .values(version=order_status.c.version + 1)
)
_MOVE_ENTRY = (
    update(order_timeline)
    .where(
        and_(
            order_timeline.c.order_id == bindparam("new_order_id"),
            order_timeline.c.status == bindparam("new_status"),
        )
    )
    .values(
        at=bindparam("new_at"),
        event_type=bindparam("new_event_type"),
        event_id=bindparam("new_event_id"),
    )
)
_ADDRESS = (
    update(notifications)
    .where(notifications.c.notification_id == bindparam("key"))
    .values(customer_id=bindparam("new_customer"))
)


def _notification(values: Any) -> Notification:
    notification = Notification(
        values["order_id"],
        values["customer_id"],
        values["status"],
        values["message"],
        values["created_at"],
        values["notification_id"],
    )
    for name in ("state", "attempts", "last_error", "sent_at", "next_attempt_at"):
        setattr(notification, name, values[name])
    return notification


class ContactRepository(SqlRepository[OrderContact]):
    """By order id; raises no events. Only ever inserted (the first phone stays)."""

    entity = OrderContact

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._new: list[OrderContact] = []

    async def get(self, *key: str) -> OrderContact | None:
        (order_id,) = key
        if order_id not in self._known:
            await self.load([order_id])
        return self._known[order_id]

    def add(self, entity: OrderContact) -> None:
        """Kept unless the order has a phone already: the first stays (one stored
        before this unit of work is kept by the insert's ON CONFLICT DO NOTHING, so
        OrderPlaced needs no read of it first)."""
        if self._known.get(entity.order_id) is None:
            self._known[entity.order_id] = entity
            self._new.append(entity)

    async def load(self, keys: Iterable[str]) -> None:
        wanted = set(keys) - self._known.keys()
        if not wanted:
            return
        self._known.update(dict.fromkeys(wanted))
        found = await execute(self._session, _BY_ORDER["order_contact"], {"keys": sorted(wanted)})
        for row in found:
            self._known[row.order_id] = OrderContact(row.order_id, row.phone)

    async def save(self) -> None:
        new, self._new = self._new, []
        if new:
            dialect = self._session.get_bind().dialect.name
            await execute(
                self._session,
                _INSERT_CONTACT["postgresql" if dialect == "postgresql" else "sqlite"],
                [{"order_id": c.order_id, "phone": c.phone} for c in new],
            )
