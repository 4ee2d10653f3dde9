"""What the service layer needs from the outside, as ports the adapters fill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from identity_service.domain.throttle import Window

Clock = Callable[[], datetime]


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, password_hash: str) -> bool: ...


class TokenSigner(Protocol):
    """Signs access tokens with the private key; the key never leaves the adapter."""

    def sign(self, claims: dict[str, Any]) -> str: ...


class Notifier(Protocol):
    """Delivers a password-reset token to the account's owner (mail, SMS, ...)."""

    async def send_password_reset(self, account_id: str, email: str, token: str) -> None: ...


PER_ACCOUNT = Window(limit=5, period=timedelta(minutes=15))  # the 6th attempt waits
PER_ADDRESS = Window(limit=20, period=timedelta(minutes=15))


@dataclass(frozen=True)
class Policy:
    issuer: str
    audience: str
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=14)
    reset_ttl: timedelta = timedelta(minutes=30)
    per_account: Window = PER_ACCOUNT
    per_address: Window = PER_ADDRESS
