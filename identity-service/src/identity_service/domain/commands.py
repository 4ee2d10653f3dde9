"""What callers ask of the identity context. Secrets and emails stay out of `repr`,
so a command in a log line or a traceback never shows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from identity_service.domain.model import Role


@dataclass(frozen=True)
class SignUp:
    email: str = field(repr=False)
    password: str = field(repr=False)
    role: Role
    name: str
    region: str | None = None


@dataclass(frozen=True)
class PasswordGrant:
    email: str = field(repr=False)
    password: str = field(repr=False)
    client_address: str


@dataclass(frozen=True)
class RefreshTokenCommand:
    """A command that presents a refresh token (a secret: never in a repr)."""

    refresh_token: str = field(repr=False)


class RefreshGrant(RefreshTokenCommand):
    pass


class Logout(RefreshTokenCommand):
    pass


@dataclass(frozen=True)
class RequestPasswordReset:
    email: str = field(repr=False)


@dataclass(frozen=True)
class ConfirmPasswordReset:
    token: str = field(repr=False)
    new_password: str = field(repr=False)
