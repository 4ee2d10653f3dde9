"""The one place the identity context's dependencies are wired."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from identity_service.adapters.hashing import Argon2PasswordHasher
from identity_service.adapters.keys import SigningKey, load_signing_key
from identity_service.adapters.notifier import LogNotifier
from identity_service.service_layer.handlers import Identity, command_handlers
from identity_service.service_layer.ports import Clock, Notifier, PasswordHasher, Policy
from identity_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from service_kit.auth import AuthSettings
from service_kit.messagebus import MessageBus
from service_kit.runtime import Container as ServiceContainer
from service_kit.runtime import Platform
from service_kit.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Container(ServiceContainer):
    auth: AuthSettings
    signing_key: SigningKey
    notifier: Notifier
    # Browser origins allowed to call the token endpoint (each service's /docs).
    cors_origin_regex: str


def signing_key_from_env() -> SigningKey:
    """AUTH_SIGNING_KEY_FILE names a mounted secret; without it the key lives (and is
    created on first start) in the data folder."""
    configured = os.environ.get("AUTH_SIGNING_KEY_FILE")
    if configured:
        return load_signing_key(Path(configured), create=False)
    data_dir = Path(os.environ.get("FOODDELIVERY_DATA_DIR", ".local/data"))
    return load_signing_key(data_dir / "identity-signing-key.pem", create=True)


def bootstrap(
    settings: ServiceSettings | None = None,
    *,
    notifier: Notifier | None = None,
    hasher: PasswordHasher | None = None,
    clock: Clock | None = None,
) -> Container:
    settings = settings or ServiceSettings.from_env(PRODUCER, http_port=8085, worker_web_port=6085)
    auth = AuthSettings.from_env()
    platform = Platform(settings, MIGRATIONS, messaging=False)
    signing_key = signing_key_from_env()
    hasher = hasher or Argon2PasswordHasher()
    identity = Identity(
        policy=Policy(issuer=auth.issuer, audience=auth.audience),
        hasher=hasher,
        signer=signing_key,
        clock=clock or (lambda: datetime.now(UTC)),
        dummy_hash=hasher.hash(secrets.token_urlsafe(16)),
    )
    bus = MessageBus(
        platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER), commands=command_handlers(identity)
    )
    return Container(
        platform=platform,
        bus=bus,
        auth=auth,
        signing_key=signing_key,
        notifier=notifier or LogNotifier(),
        cors_origin_regex=os.environ.get(
            "CORS_ORIGIN_REGEX", r"https?://(localhost|127\.0\.0\.1)(:\d+)?"
        ),
    )
