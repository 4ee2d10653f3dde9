"""The delivery-service shell starts: lifespan migrates, health answers; no broker needed."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from delivery_service.bootstrap import bootstrap
from delivery_service.entrypoints.api import create_app


async def test_the_app_starts_migrated_and_is_live(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    container = bootstrap()
    assert container.settings.http_port == 8083
    app = create_app(container)

    async with app.router.lifespan_context(app):
        async with container.platform.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://delivery") as client:
            live = await client.get("/health/live")
            ready = await client.get("/health/ready")

    assert {"outbox", "inbox", "alembic_version"} <= tables
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": True, "broker": False}
