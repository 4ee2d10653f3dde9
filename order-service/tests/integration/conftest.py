"""The `service` fixture: the real app over a fresh database, its lifespan running."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from order_service.bootstrap import bootstrap

from .support import RendezvousGateway, Service, serving


@pytest.fixture
async def service(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    gateway = RendezvousGateway()
    async with serving(bootstrap(gateway=gateway), gateway) as service:
        yield service
