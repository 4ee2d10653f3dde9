"""The one place the Customer context's dependencies are wired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mypage_service.adapters.notification_log import Due, NotificationLog, SqlNotificationLog
from mypage_service.adapters.notifier import Notifier, notifier_from_env
from mypage_service.adapters.orm import notifications
from mypage_service.domain.notification import NotificationState
from mypage_service.entrypoints.stream import StreamHub
from mypage_service.service_layer.dispatcher import DispatchPolicy, notification_loop
from mypage_service.service_layer.messagebus import create_bus
from mypage_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from service_kit import metrics
from service_kit.claims import ClaimLoop
from service_kit.runtime import Container as _Container
from service_kit.runtime import Platform
from service_kit.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container(_Container):
    notifier: Notifier
    dispatcher: ClaimLoop[Due, NotificationLog]
    # The API process's open status page streams, woken by the worker's commits.
    streams: StreamHub


def settings_from_env() -> ServiceSettings:
    """What the mypage API and worker run on, from their environment."""
    return ServiceSettings.from_env(PRODUCER, http_port=8084, worker_web_port=6084)


def bootstrap(
    settings: ServiceSettings | None = None,
    notifier: Notifier | None = None,
    dispatch: DispatchPolicy | None = None,
) -> Container:
    settings = settings or settings_from_env()
    # KakaoTalk over HTTP when KAKAO_NOTIFY_URL is set, else the log notifier.
    notifier = notifier or notifier_from_env()
    platform = Platform(settings, MIGRATIONS)

    # Its commits wake the status page streams of the orders they changed (stream.py).
    uow_factory = platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER, changes=platform)
    # The worker decides notifications; the API process sends them, beside its relay.
    sender = notification_loop(SqlNotificationLog(platform.reads), notifier, dispatch)
    platform.background.append(sender)
    platform.readings[metrics.NOTIFICATIONS_PENDING] = metrics.row_count(
        platform.sessions, notifications, notifications.c.state == NotificationState.PENDING
    )
    return Container(platform, create_bus(uow_factory), notifier, sender, StreamHub())
