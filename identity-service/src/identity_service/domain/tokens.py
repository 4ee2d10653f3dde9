"""The rules of the two opaque tokens: refresh tokens (rotated, reuse revokes the
family) and password-reset tokens (single use, expiring). Only their hashes are kept."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service_kit.kernel import Aggregate, DomainError


class InvalidGrant(DomainError):
    """The credentials or the token do not grant anything (OAuth2 `invalid_grant`)."""


class RefreshTokenReused(InvalidGrant):
    """A rotated refresh token came back: someone holds a copy; the family is revoked."""


class InvalidResetToken(DomainError):
    pass


@dataclass(eq=False)
class RefreshFamily(Aggregate):
    """The chain of refresh tokens one login started. Only the newest is valid;
    presenting an older one means the chain leaked, so all of it dies."""

    family_id: str
    account_id: str
    current_hash: str = field(repr=False)  # a token's digest: never in logs
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def start(
        cls, family_id: str, account_id: str, token_hash: str, now: datetime, ttl: timedelta
    ) -> RefreshFamily:
        return cls(family_id, account_id, token_hash, now + ttl, now)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def rotate(self, presented_hash: str, new_hash: str, now: datetime, ttl: timedelta) -> None:
        """Swap the presented (current) token for a new one; raise if it may not be used.
        On reuse the family is revoked first: the caller commits, then answers."""
        if self.revoked:
            raise InvalidGrant("refresh token revoked")
        if presented_hash != self.current_hash:
            self.revoke(now)
            raise RefreshTokenReused("refresh token already used; every session of it is revoked")
        if now >= self.expires_at:
            raise InvalidGrant("refresh token expired")
        self.current_hash = new_hash
        self.expires_at = now + ttl

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now


@dataclass(eq=False)
class ResetToken(Aggregate):
    token_hash: str = field(repr=False)
    account_id: str
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def issue(cls, token_hash: str, account_id: str, now: datetime, ttl: timedelta) -> ResetToken:
        return cls(token_hash, account_id, now + ttl)

    def redeem(self, now: datetime) -> None:
        """Once, and before it expires."""
        if self.used_at is not None or now >= self.expires_at:
            raise InvalidResetToken("the reset token is invalid, used or expired")
        self.used_at = now


def token_digest(token: str) -> str:
    """What is stored of an opaque token: a high-entropy secret needs no salt or
    slow hash, only a one-way digest so a database leak hands out no tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
