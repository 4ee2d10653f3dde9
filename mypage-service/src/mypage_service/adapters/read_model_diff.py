"""Row-by-row comparison of two mypage read models (`order_status`, `order_timeline`).

Used by the rebuild's `--verify-against` and by the tests that prove a replay from
the beginning gives what the live worker built. Every column is compared but
`order_status.version`: the optimistic-lock counter counts the row's writes, and
how many writes an order took depends on arrival order and redeliveries, not on
what the customer sees. Everything else is a function of the set of events
(`updated_at` included: the latest moment in the timeline, see domain.model).

Both sides are read a page of orders at a time, by key lookups only, so two
backends with different collations (SQLite and PostgreSQL) compare fine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mypage_service.adapters.databases import reader_engine, shown
from mypage_service.adapters.orm import order_status, order_timeline

IGNORED = frozenset({"version"})
ORDER_COLUMNS = tuple(c for c in order_status.c if c.name not in IGNORED)
TIMELINE_COLUMNS = tuple(order_timeline.c)
PAGE = 500

Snapshot = tuple[dict[str, Any], dict[str, dict[str, Any]]]  # row, timeline by status


@dataclass
class Comparison:
    left: str
    right: str
    orders: int = 0  # orders looked at, on either side
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.identical:
            return f"identical: {self.orders} orders in {self.left} and {self.right}"
        more = len(self.differences) - 20
        lines = [
            f"{len(self.differences)} differences ({self.left} vs {self.right}):",
            *self.differences[:20],
            *([f"... and {more} more"] if more > 0 else []),
        ]
        return "\n  ".join(lines)


async def compare_read_models(
    left_url: str, right_url: str, *, order_ids: Iterable[str] | None = None
) -> Comparison:
    """Compare every order of both databases, or only `order_ids` when given."""
    result = Comparison(shown(left_url), shown(right_url))
    left_engine, right_engine = reader_engine(left_url), reader_engine(right_url)
    try:
        async with left_engine.connect() as left, right_engine.connect() as right:
            if order_ids is not None:
                wanted = sorted(set(order_ids))
                for i in range(0, len(wanted), PAGE):
                    await _compare_page(left, right, wanted[i : i + PAGE], result)
            else:
                async for page in order_id_pages(left_engine):
                    await _compare_page(left, right, page, result)
                async for page in order_id_pages(right_engine):  # what only the right has
                    known = await _present(left, page)
                    await _compare_page(left, right, [o for o in page if o not in known], result)
    finally:
        await left_engine.dispose()
        await right_engine.dispose()
    return result


async def _compare_page(
    left: AsyncConnection, right: AsyncConnection, ids: Sequence[str], result: Comparison
) -> None:
    if not ids:
        return
    a, b = await _snapshots(left, ids), await _snapshots(right, ids)
    for order_id in ids:
        if order_id not in a and order_id not in b:
            continue
        result.orders += 1
        if order_id not in b:
            result.differences.append(f"order {order_id}: only in {result.left}")
        elif order_id not in a:
            result.differences.append(f"order {order_id}: only in {result.right}")
        else:
            result.differences += _differences(order_id, a[order_id], b[order_id])


def _differences(order_id: str, a: Snapshot, b: Snapshot) -> list[str]:
    (row_a, timeline_a), (row_b, timeline_b) = a, b
    found = [
        f"order {order_id}: {name} {row_a.get(name)!r} != {row_b.get(name)!r}"
        for name in row_a
        if row_a.get(name) != row_b.get(name)
    ]
    for status in sorted(set(timeline_a) | set(timeline_b)):
        entry_a, entry_b = timeline_a.get(status), timeline_b.get(status)
        if entry_a != entry_b:
            found.append(f"order {order_id}: timeline {status} {entry_a!r} != {entry_b!r}")
    return found


async def _snapshots(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Snapshot]:
    rows = await conn.execute(select(*ORDER_COLUMNS).where(order_status.c.order_id.in_(ids)))
    found: dict[str, Snapshot] = {r.order_id: (dict(r._mapping), {}) for r in rows}
    entries = await conn.execute(
        select(*TIMELINE_COLUMNS).where(order_timeline.c.order_id.in_(ids))
    )
    for e in entries:
        if e.order_id in found:  # the foreign key: no entry without its order row
            found[e.order_id][1][e.status] = dict(e._mapping)
    return found


async def _present(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    rows = await conn.execute(
        select(order_status.c.order_id).where(order_status.c.order_id.in_(ids))
    )
    return set(rows.scalars())


async def order_id_pages(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """Every order id of a read model, a page at a time, in its database's own key
    order. Each page on a connection of its own, so the caller may write between."""
    last: str | None = None
    while True:
        query = select(order_status.c.order_id).order_by(order_status.c.order_id).limit(PAGE)
        if last is not None:
            query = query.where(order_status.c.order_id > last)
        async with engine.connect() as conn:
            page = list((await conn.execute(query)).scalars())
        if not page:
            return
        yield page
        last = page[-1]
