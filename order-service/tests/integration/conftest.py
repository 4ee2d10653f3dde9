"""The `service` fixture: the real app over a fresh database, its lifespan running."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from order_service.bootstrap import bootstrap
from order_service.entrypoints.api import create_app
from testkit import tokens

from .support import RendezvousGateway, Service


@pytest.fixture
async def service(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    gateway = RendezvousGateway()
    container = bootstrap(gateway=gateway)
    app = create_app(container, resource_server=tokens.resource_server())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://order-service"
        ) as http,
    ):
        yield Service(http, container, gateway)
