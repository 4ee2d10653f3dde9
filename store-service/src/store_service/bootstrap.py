"""The one place the Kitchen context's dependencies are wired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service_kit.claims import ClaimLoop, Pacing
from service_kit.runtime import Container as _Container
from service_kit.runtime import Platform
from service_kit.settings import ServiceSettings
from service_kit.uow import Trace
from shared_events.envelope import utcnow
from store_service.service_layer.acceptance_timer import Clock, OverdueTickets, max_sleep_for
from store_service.service_layer.messagebus import create_bus
from store_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork, UnitOfWork
from store_service.settings import KitchenSettings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container(_Container):
    kitchen: KitchenSettings
    timer: ClaimLoop[str, UnitOfWork]


def bootstrap(
    settings: ServiceSettings | None = None,
    kitchen: KitchenSettings | None = None,
    clock: Clock = utcnow,
) -> Container:
    settings = settings or ServiceSettings.from_env(PRODUCER, http_port=8082, worker_web_port=6082)
    kitchen = kitchen or KitchenSettings.from_env()
    platform = Platform(settings, MIGRATIONS)

    uow_factory = platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER)
    # The timer runs in the API process only (platform.background, beside the relay).
    # The worker, which registers the tickets, builds it too but never runs it: its
    # wake() is then a no-op and the API's timer finds new deadlines by its bounded sleep.
    # The poll is the sleep's bound when no deadline is known (or it is later).
    pacing = Pacing(poll_interval=max_sleep_for(kitchen.acceptance_window))
    timer = ClaimLoop(lambda: uow_factory(Trace()), OverdueTickets(clock), pacing)
    platform.background.append(timer)
    bus = create_bus(
        uow_factory, acceptance_window=kitchen.acceptance_window, wake_timer=timer.wake
    )
    return Container(platform, bus, kitchen, timer)
