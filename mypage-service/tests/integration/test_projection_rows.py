"""The projection's rows on Core (adapters.repository): a batch in one unit of work
writes what the same events one by one write, whatever the order and however often
they come, and a status row changed under a unit of work fails it; SQLite and
PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Table, select, update

from mypage_service.adapters.orm import notifications, order_contact, order_status, order_timeline
from mypage_service.bootstrap import Container, bootstrap
from mypage_service.service_layer.handlers import project_order_event
from service_kit.kernel import ConcurrentChange, EventMeta
from service_kit.tables import inbox
from service_kit.uow import Trace

from ..events import ORDER, happy_path
from ..events import envelope as wrapped


@pytest.fixture
async def container(monkeypatch: pytest.MonkeyPatch, database_url: str) -> AsyncIterator[Container]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    container = bootstrap()
    await container.platform.migrate()
    yield container
    await container.platform.dispose()


async def rows(container: Container) -> dict[str, list[Any]]:
    """The read model's rows but what depends on the arrival order: the status row's
    version (one per update) and the notifications (one per visible change)."""
    async with container.platform.sessions() as session:

        async def read(*columns: Any) -> list[Any]:
            return sorted(tuple(r) for r in (await session.execute(select(*columns))).all())

        return {
            "status": await read(*[c for c in order_status.c if c.name != "version"]),
            "timeline": await read(*order_timeline.c),
            "contacts": await read(*order_contact.c),
        }


async def clear(container: Container, *tables: Table) -> None:
    async with container.platform.writes() as session:
        for table in tables:
            await session.execute(table.delete())
        await session.commit()


async def test_shuffled_batches_with_duplicates_write_what_the_events_one_by_one_write(
    container,
):
    events = happy_path()
    for envelope in events:
        await container.bus.handle_event(envelope, envelope.event())
    one_by_one = await rows(container)
    await clear(container, notifications, order_timeline, order_contact, order_status, inbox)
    # The same events, shuffled and each twice, in two batches.
    shuffled = events * 2
    random.Random(7).shuffle(shuffled)
    applied = await container.bus.handle_batch([(e, e.event()) for e in shuffled[:7]])
    applied += await container.bus.handle_batch([(e, e.event()) for e in shuffled[7:]])
    assert applied.count(True) == len(events)  # each once: the inbox skips the copies
    assert await rows(container) == one_by_one
    async with container.platform.sessions() as session:
        decided = (await session.execute(select(notifications.c.status))).scalars().all()
    assert decided and len(decided) == len(set(decided))  # at most one message a status


async def test_a_status_row_changed_under_a_unit_of_work_is_a_concurrent_change(container):
    placed, accepted = happy_path()[:2]
    await container.bus.handle_event(placed, placed.event())
    uow = container.bus._uow_factory(Trace())  # the worker's unit of work, by hand
    with pytest.raises(ConcurrentChange):
        async with uow:
            await project_order_event(accepted.event(), EventMeta.of(accepted), uow)
            assert uow.session is not None
            # Another writer moved the row since this unit of work read it.
            await uow.session.execute(
                update(order_status)
                .where(order_status.c.order_id == ORDER)
                .values(version=order_status.c.version + 1)
            )
            await uow.commit()
    async with container.platform.sessions() as session:
        (status,) = (await session.execute(select(order_status.c.status))).scalars()
    assert status == "PLACED"


async def test_a_replayed_order_placed_keeps_the_first_phone_stored(container):
    placed = happy_path()[0]
    replay = wrapped(placed.event().model_copy(update={"phone": "010-0000-0000"}), 1)
    await container.bus.handle_event(placed, placed.event())
    # A later unit of work (a replay under a new event id, or in a batch) writes no
    # phone over the stored one.
    assert await container.bus.handle_batch([(replay, replay.event())]) == [True]
    async with container.platform.sessions() as session:
        phones = (await session.execute(select(order_contact.c.phone))).scalars().all()
    assert phones == ["010-1234-5678"]
