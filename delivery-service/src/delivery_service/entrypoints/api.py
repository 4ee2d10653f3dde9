"""HTTP edge of the Delivery context. For now it starts, migrates and answers health."""

from __future__ import annotations

from fastapi import FastAPI

from delivery_service.bootstrap import Container, bootstrap
from shared_events.http import serve, service_app


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    platform = container.platform

    app = service_app(
        platform,
        title="delivery-service",
        summary="Delivery context: deliveries offered to riders, picked and confirmed",
    )
    return app


def main() -> None:
    container = bootstrap()
    serve(create_app(container), container.settings)


if __name__ == "__main__":
    main()
