"""The one place the Customer context's dependencies are wired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mypage_service.adapters.orm import start_mappers
from mypage_service.service_layer.messagebus import create_bus
from mypage_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from shared_events.messagebus import MessageBus
from shared_events.runtime import Platform
from shared_events.settings import ServiceSettings
from shared_events.uow import Trace

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container:
    settings: ServiceSettings
    platform: Platform
    bus: MessageBus


def bootstrap(settings: ServiceSettings | None = None) -> Container:
    settings = settings or ServiceSettings.from_env(PRODUCER, http_port=8084, worker_web_port=6084)
    start_mappers()
    platform = Platform(settings, MIGRATIONS)

    def uow_factory(trace: Trace) -> SqlAlchemyUnitOfWork:
        # mypage publishes nothing today; the relay wake-up costs nothing if it ever does.
        return SqlAlchemyUnitOfWork(
            platform.sessions, producer=PRODUCER, trace=trace, on_commit=platform.relay.wake
        )

    return Container(settings, platform, create_bus(uow_factory))
