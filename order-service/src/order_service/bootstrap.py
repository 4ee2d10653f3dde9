"""The one place the Ordering context's dependencies are wired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from order_service.adapters.orm import payments
from order_service.adapters.payment import FakeCardGateway, PaymentGateway
from order_service.domain.payment import PaymentStatus
from order_service.service_layer.messagebus import create_bus
from order_service.service_layer.refunds import PACING, Refunds
from order_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork, UnitOfWork
from service_kit import metrics
from service_kit.claims import ClaimLoop, Pacing
from service_kit.runtime import Container as _Container
from service_kit.runtime import Platform
from service_kit.settings import ServiceSettings
from service_kit.uow import Trace

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container(_Container):
    # Run by the API process; woken by the commits that leave a refund owed.
    refunds: ClaimLoop[str, UnitOfWork]


def bootstrap(
    settings: ServiceSettings | None = None,
    gateway: PaymentGateway | None = None,
    refund_pacing: Pacing = PACING,
) -> Container:
    settings = settings or ServiceSettings.from_env(PRODUCER, http_port=8081, worker_web_port=6081)
    gateway = gateway or FakeCardGateway()  # no real payment provider yet
    platform = Platform(settings, MIGRATIONS)

    # A commit that leaves a refund owed wakes the API's dispatcher: a datagram or a
    # NOTIFY from the worker (a rejection), heard in entrypoints.api.
    uow_factory = platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER, changes=platform)
    # The dispatcher runs in the API process only (platform.background, beside the
    # relay). The worker builds it too but never runs it: its wake() is then a no-op.
    refunds = ClaimLoop(lambda: uow_factory(Trace()), Refunds(gateway), refund_pacing)
    platform.background.append(refunds)
    platform.readings[metrics.REFUNDS_PENDING] = metrics.row_count(
        platform.sessions, payments, payments.c.status == PaymentStatus.REFUND_PENDING
    )
    bus = create_bus(uow_factory, gateway, wake_refunds=refunds.wake)
    return Container(platform, bus, refunds)
