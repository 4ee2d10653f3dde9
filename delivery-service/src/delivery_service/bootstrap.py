"""The one place the Delivery context's dependencies are wired."""

from __future__ import annotations

from pathlib import Path

from delivery_service.service_layer.messagebus import create_bus
from delivery_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from service_kit.runtime import Container, Platform
from service_kit.settings import ServiceSettings

SERVICE = PRODUCER
MIGRATIONS = Path(__file__).parent / "migrations"


def bootstrap(settings: ServiceSettings | None = None) -> Container:
    settings = settings or ServiceSettings.from_env(SERVICE, http_port=8083, worker_web_port=6083)
    platform = Platform(settings, MIGRATIONS)
    return Container(platform, create_bus(platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER)))
