"""Two riders' picks that both read WAITING before either writes: the optimistic
version check stops the second write, and its retry is refused by the state check.

Only PostgreSQL lets both transactions read before either writes; SQLite's
BEGIN IMMEDIATE serialises them, so there the loser simply reads PICKED (the
API race test in test_api.py covers both backends)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from delivery_service.adapters.repository import DeliveryRepository
from delivery_service.bootstrap import bootstrap
from delivery_service.domain import commands
from delivery_service.domain.model import Delivery, WrongState
from delivery_service.service_layer.messagebus import create_bus
from delivery_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from service_kit.uow import Trace

from ..events import cook_started, envelope, order_placed

ORDER = "o-race"


class RendezvousRepository(DeliveryRepository):
    """Holds each reader until both have read."""

    def __init__(self, session: AsyncSession, barrier: asyncio.Barrier | None) -> None:
        super().__init__(session)
        self._barrier = barrier

    async def get(self, order_id: str) -> Delivery | None:
        found = await super().get(order_id)
        if self._barrier is not None:
            await asyncio.wait_for(self._barrier.wait(), timeout=10)
        return found


class RendezvousUnitOfWork(SqlAlchemyUnitOfWork):
    barrier: asyncio.Barrier | None = None

    def bind(self, session: AsyncSession) -> None:
        self.deliveries = RendezvousRepository(session, self.barrier)
        self.barrier = None  # only the first attempt meets the other rider


@pytest.fixture
def database_url(postgres) -> str:
    """PostgreSQL only: it is the backend that lets both riders read before either writes."""
    return postgres.reset("test_delivery_service_race")


async def test_the_stale_pick_is_retried_and_refused_with_the_current_state(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    container = bootstrap()
    platform = container.platform
    await platform.migrate()
    try:
        for env in (envelope(order_placed(ORDER), 0), envelope(cook_started(ORDER), 1)):
            await container.bus.handle_event(env, env.event())

        barrier = asyncio.Barrier(2)

        def factory(trace: Trace) -> RendezvousUnitOfWork:
            uow = RendezvousUnitOfWork(platform.sessions, producer=PRODUCER, trace=trace)
            uow.barrier = barrier
            return uow

        bus = create_bus(factory)
        caplog.set_level(logging.INFO, logger="delivery_service")
        results = await asyncio.gather(
            bus.handle(commands.PickFood(ORDER, "rider-1")),
            bus.handle(commands.PickFood(ORDER, "rider-2")),
            return_exceptions=True,
        )
    finally:
        await platform.dispose()

    [won] = [r for r in results if isinstance(r, Delivery)]
    [lost] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(lost, WrongState), repr(lost)
    assert lost.current_state == "PICKED"
    assert won.rider_id in {"rider-1", "rider-2"}
    assert "changed concurrently" in caplog.text  # the version check, not luck, decided
