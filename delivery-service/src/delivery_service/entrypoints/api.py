"""HTTP edge of the Delivery context. For now it starts, migrates and answers health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from delivery_service.bootstrap import Container, bootstrap
from shared_events.http import health_router, install_error_handlers
from shared_events.runtime import configure_logging


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    platform = container.platform

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with platform.lifespan():
            yield

    app = FastAPI(
        title="delivery-service",
        summary="Delivery context: deliveries offered to riders, picked and confirmed",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(
        health_router({"database": platform.database_ready, "broker": platform.broker_ready})
    )
    return app


def main() -> None:
    container = bootstrap()
    configure_logging(container.settings.service)
    uvicorn.run(
        create_app(container),
        host=container.settings.http_host,
        port=container.settings.http_port,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
