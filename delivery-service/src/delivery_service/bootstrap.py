"""The one place the Delivery context's dependencies are wired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared_events.runtime import Platform
from shared_events.settings import ServiceSettings

SERVICE = "delivery-service"
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container:
    settings: ServiceSettings
    platform: Platform
    # The message bus joins with the Delivery aggregate's first command.


def bootstrap(settings: ServiceSettings | None = None) -> Container:
    settings = settings or ServiceSettings.from_env(SERVICE, http_port=8083, worker_web_port=6083)
    return Container(settings, Platform(settings, MIGRATIONS))
