"""The one place the Kitchen context's dependencies are wired."""

from __future__ import annotations

from pathlib import Path

from service_kit.runtime import Container, Platform
from service_kit.settings import ServiceSettings
from store_service.adapters.orm import start_mappers
from store_service.service_layer.messagebus import create_bus
from store_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"


def bootstrap(settings: ServiceSettings | None = None) -> Container:
    settings = settings or ServiceSettings.from_env(PRODUCER, http_port=8082, worker_web_port=6082)
    platform = Platform(settings, MIGRATIONS, start_mappers)
    return Container(platform, create_bus(platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER)))
