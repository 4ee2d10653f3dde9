"""After a replay: the rebuilt notification log takes the live one's place, so
switching databases never messages a customer again (see entrypoints.rebuild).

Per order of the rebuilt read model:
- every live notification row is copied verbatim over the replay's row for that
  order and status: same notification_id (the gateway's dedup key), state,
  attempts, times. Sent stays sent; a message the live dispatcher still owes
  stays owed, under the same key;
- a row the replay decided that the live log lacks is marked SENT without a
  `sent_at` and with a note in `last_error`: the rebuilt database never sends it.
Live rows of orders the replay never saw cannot be copied (their order row is
missing) and are counted.

Run again over the same target (`--force`), it copies the live log afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from mypage_service.adapters.orm import notifications, order_status
from mypage_service.adapters.read_model_diff import order_id_pages
from mypage_service.domain.notification import NotificationState

NOT_SENT = "not sent: decided while rebuilding the read model"
PAGE = 500


@dataclass
class CarriedOver:
    copied: int = 0  # live rows copied
    silenced: int = 0  # decided by the replay alone, marked SENT, never sent
    left_behind: int = 0  # live rows of orders the replay did not rebuild


async def carry_over(target: AsyncEngine, live: AsyncEngine | None) -> CarriedOver:
    """`live` None: no live log to copy, every replayed notification is silenced."""
    done = CarriedOver()
    async for page in order_id_pages(target):
        await _carry_page(target, live, page, done)
    if live is not None:
        done.left_behind = await _left_behind(target, live)
    return done


async def _carry_page(
    target: AsyncEngine, live: AsyncEngine | None, orders: list[str], done: CarriedOver
) -> None:
    live_rows: list[dict] = []
    if live is not None:
        async with live.connect() as conn:
            found = await conn.execute(
                select(notifications).where(notifications.c.order_id.in_(orders))
            )
            live_rows = [dict(r._mapping) for r in found]
    live_keys = {(r["order_id"], r["status"]) for r in live_rows}
    async with target.begin() as conn:
        columns = notifications.c["notification_id", "order_id", "status", "state"]
        query = select(*columns).where(notifications.c.order_id.in_(orders))
        replayed = (await conn.execute(query)).all()
        replaced = [r.notification_id for r in replayed if (r.order_id, r.status) in live_keys]
        silence = [
            r.notification_id
            for r in replayed
            if (r.order_id, r.status) not in live_keys and r.state == NotificationState.PENDING
        ]
        if replaced:
            await conn.execute(
                delete(notifications).where(notifications.c.notification_id.in_(replaced))
            )
        if live_rows:
            await conn.execute(insert(notifications), live_rows)
        if silence:
            await conn.execute(
                update(notifications)
                .where(notifications.c.notification_id.in_(silence))
                .values(state=NotificationState.SENT, last_error=NOT_SENT)
            )
    done.copied += len(live_rows)
    done.silenced += len(silence)


async def _left_behind(target: AsyncEngine, live: AsyncEngine) -> int:
    """Live rows whose order the rebuilt read model does not have."""
    count, last = 0, None
    while True:
        async with live.connect() as conn:
            query = (
                select(notifications.c.order_id, notifications.c.notification_id)
                .order_by(notifications.c.notification_id)
                .limit(PAGE)
            )
            if last is not None:
                query = query.where(notifications.c.notification_id > last)
            page = (await conn.execute(query)).all()
        if not page:
            return count
        last = page[-1].notification_id
        async with target.connect() as conn:
            known = set(
                (
                    await conn.execute(
                        select(order_status.c.order_id).where(
                            order_status.c.order_id.in_({r.order_id for r in page})
                        )
                    )
                ).scalars()
            )
        count += sum(1 for r in page if r.order_id not in known)
