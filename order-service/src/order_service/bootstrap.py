"""The one place the Ordering context's dependencies are wired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from order_service.adapters.orm import start_mappers
from order_service.adapters.payment import FakeCardGateway, PaymentGateway
from order_service.service_layer.messagebus import create_bus
from order_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from shared_events.messagebus import MessageBus
from shared_events.runtime import Platform
from shared_events.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container:
    settings: ServiceSettings
    platform: Platform
    bus: MessageBus
    gateway: PaymentGateway


def bootstrap(
    settings: ServiceSettings | None = None, gateway: PaymentGateway | None = None
) -> Container:
    settings = settings or ServiceSettings.from_env(PRODUCER, http_port=8081, worker_web_port=6081)
    gateway = gateway or FakeCardGateway()  # no real payment provider yet
    start_mappers()
    platform = Platform(settings, MIGRATIONS)

    uow_factory = platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER)
    return Container(settings, platform, create_bus(uow_factory, gateway), gateway)
