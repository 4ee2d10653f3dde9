"""Accounts and their roles: who may act, and what an access token says about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from service_kit.kernel import Aggregate, Conflict, InvalidInput


class Role(StrEnum):
    CUSTOMER = "customer"
    OWNER = "owner"
    RIDER = "rider"


class EmailTaken(Conflict):
    pass


def normalize_email(email: str) -> str:
    """One account per mailbox whatever the caller's capitalisation."""
    return email.strip().lower()


@dataclass(eq=False)
class Account(Aggregate):
    account_id: str
    email: str = field(repr=False)  # personal data and a secret: never in logs
    password_hash: str = field(repr=False)
    role: Role
    name: str
    region: str | None
    created_at: datetime

    @classmethod
    def sign_up(
        cls,
        account_id: str,
        email: str,
        password_hash: str,
        role: Role,
        name: str,
        region: str | None,
        now: datetime,
    ) -> Account:
        if role is Role.RIDER and not region:
            raise InvalidInput("a rider gives the region they ride in", field="region")
        # Only a rider's region means anything (offers default to it).
        region = region if role is Role.RIDER else None
        return cls(account_id, normalize_email(email), password_hash, role, name, region, now)

    def change_password(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def access_claims(
        self, *, issuer: str, audience: str, now: datetime, ttl: timedelta, jti: str
    ) -> dict[str, Any]:
        """The access token's claims: the account id is the actor id everywhere."""
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": self.account_id,
            "role": str(self.role),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": jti,
        }
        if self.role is Role.RIDER:
            claims["region"] = self.region
        return claims
