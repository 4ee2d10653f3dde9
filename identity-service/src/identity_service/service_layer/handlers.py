"""The identity use cases. Argon2 runs in a thread, outside any transaction, so
it neither blocks the event loop nor holds SQLite's write lock."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from identity_service.domain import commands, throttle
from identity_service.domain.model import Account, EmailTaken, normalize_email
from identity_service.domain.tokens import (
    InvalidGrant,
    InvalidResetToken,
    RefreshFamily,
    RefreshTokenReused,
    ResetToken,
    token_digest,
)
from identity_service.service_layer.ports import (
    Clock,
    Notifier,
    PasswordHasher,
    Policy,
    TokenSigner,
)
from identity_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "invalid username or password"  # the one answer for either mistake


@dataclass
class Identity:
    """The handlers' collaborators, wired in bootstrap (fakes in unit tests)."""

    policy: Policy
    hasher: PasswordHasher
    signer: TokenSigner
    clock: Clock
    # A real hash of no one's password: an unknown email is verified against it,
    # so it costs as much as a wrong password and cannot be told apart by time.
    dummy_hash: str
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    new_secret: Callable[[], str] = field(default=lambda: secrets.token_urlsafe(32))


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: int
    refresh_token: str = field(repr=False)
    token_type: str = "bearer"


@dataclass(frozen=True)
class ResetNotice:
    account_id: str
    email: str = field(repr=False)
    token: str = field(repr=False)


def account_key(email: str) -> str:
    # Keyed by the submitted email, known or not, so the limit itself tells nothing;
    # stored as a digest so attempted addresses are not kept in clear.
    return "email:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()


def address_key(address: str) -> str:
    return "addr:" + address[:64]


async def sign_up(cmd: commands.SignUp, uow: UnitOfWork, identity: Identity) -> Account:
    password_hash = await asyncio.to_thread(identity.hasher.hash, cmd.password)
    now = identity.clock()
    async with uow:
        if await uow.accounts.by_email(normalize_email(cmd.email)) is not None:
            raise EmailTaken("an account with this email already exists")
        account = Account.sign_up(
            identity.new_id(), cmd.email, password_hash, cmd.role, cmd.name, cmd.region, now
        )
        uow.accounts.add(account)
        await uow.commit()
    return account


async def password_grant(
    cmd: commands.PasswordGrant, uow: UnitOfWork, identity: Identity
) -> TokenResponse:
    policy, now = identity.policy, identity.clock()
    keys = {
        account_key(cmd.email): policy.per_account,
        address_key(cmd.client_address): policy.per_address,
    }
    async with uow:
        throttle.check(
            [
                (window, await uow.login_failures.since(key, now - window.period))
                for key, window in keys.items()
            ],
            now,
        )
        account = await uow.accounts.by_email(normalize_email(cmd.email))
        account_id = account.account_id if account else None
        stored = account.password_hash if account else identity.dummy_hash
    verified = await asyncio.to_thread(identity.hasher.verify, cmd.password, stored)
    async with uow:
        if account_id is None or not verified:
            for key in keys:
                await uow.login_failures.record(key, now)
            longest = max(window.period for window in keys.values())
            await uow.login_failures.prune(before=now - longest)
            await uow.commit()
            raise InvalidGrant(BAD_CREDENTIALS)
        account = await uow.accounts.get(account_id)
        if account is None:  # deleted between the two transactions
            raise InvalidGrant(BAD_CREDENTIALS)
        await uow.login_failures.clear(account_key(cmd.email))
        tokens = await _start_session(account, uow, identity, now)
        await uow.commit()
    return tokens


async def refresh_grant(
    cmd: commands.RefreshGrant, uow: UnitOfWork, identity: Identity
) -> TokenResponse:
    now, presented = identity.clock(), token_digest(cmd.refresh_token)
    refresh_token = identity.new_secret()
    async with uow:
        family = await uow.refresh_families.by_token(presented)
        account = await uow.accounts.get(family.account_id) if family else None
        if family is None or account is None:
            raise InvalidGrant("invalid refresh token")
        try:
            family.rotate(presented, token_digest(refresh_token), now, identity.policy.refresh_ttl)
        except RefreshTokenReused:
            await uow.commit()  # the revocation of the whole family stands
            log.warning(
                "reused refresh token: family %s of account %s revoked",
                family.family_id,
                account.account_id,
            )
            raise
        await uow.refresh_families.remember(token_digest(refresh_token), family.family_id, now)
        access_token = _access_token(account, identity, now)
        await uow.commit()
    return TokenResponse(access_token, _seconds(identity), refresh_token)


async def logout(cmd: commands.Logout, uow: UnitOfWork, identity: Identity) -> None:
    """Revokes the session of the refresh token; an unknown token is no error."""
    async with uow:
        family = await uow.refresh_families.by_token(token_digest(cmd.refresh_token))
        if family is not None:
            family.revoke(identity.clock())
            await uow.commit()


async def request_password_reset(
    cmd: commands.RequestPasswordReset, uow: UnitOfWork, identity: Identity
) -> ResetNotice | None:
    """A notice to send when the account exists; the caller answers the same either way."""
    now = identity.clock()
    async with uow:
        account = await uow.accounts.by_email(normalize_email(cmd.email))
        if account is None:
            return None
        token = identity.new_secret()
        uow.reset_tokens.add(
            ResetToken.issue(
                token_digest(token), account.account_id, now, identity.policy.reset_ttl
            )
        )
        await uow.commit()
    return ResetNotice(account.account_id, account.email, token)


async def send_reset_notice(notice: ResetNotice, notifier: Notifier) -> None:
    """Delivery failures are logged, never raised: the request was already answered."""
    try:
        await notifier.send_password_reset(notice.account_id, notice.email, notice.token)
    except Exception as exc:
        log.warning(
            "password reset notice for account %s not sent: %s",
            notice.account_id,
            type(exc).__name__,
        )


async def confirm_password_reset(
    cmd: commands.ConfirmPasswordReset, uow: UnitOfWork, identity: Identity
) -> None:
    password_hash = await asyncio.to_thread(identity.hasher.hash, cmd.new_password)
    now = identity.clock()
    async with uow:
        reset = await uow.reset_tokens.get(token_digest(cmd.token))
        if reset is None:
            raise InvalidResetToken("the reset token is invalid, used or expired")
        reset.redeem(now)
        account = await uow.accounts.get(reset.account_id)
        if account is None:
            raise InvalidResetToken("the reset token is invalid, used or expired")
        account.change_password(password_hash)
        # Whoever knew the old password may hold sessions: end them all.
        for family in await uow.refresh_families.of_account(account.account_id):
            family.revoke(now)
        await uow.commit()


async def _start_session(
    account: Account, uow: UnitOfWork, identity: Identity, now: datetime
) -> TokenResponse:
    refresh_token = identity.new_secret()
    digest = token_digest(refresh_token)
    family = RefreshFamily.start(
        identity.new_id(), account.account_id, digest, now, identity.policy.refresh_ttl
    )
    uow.refresh_families.add(family)
    await uow.refresh_families.remember(digest, family.family_id, now)
    return TokenResponse(_access_token(account, identity, now), _seconds(identity), refresh_token)


def _access_token(account: Account, identity: Identity, now: datetime) -> str:
    policy = identity.policy
    claims = account.access_claims(
        issuer=policy.issuer,
        audience=policy.audience,
        now=now,
        ttl=policy.access_ttl,
        jti=identity.new_id(),
    )
    return identity.signer.sign(claims)


def _seconds(identity: Identity) -> int:
    return int(identity.policy.access_ttl.total_seconds())


def command_handlers(identity: Identity) -> dict[type, Callable[..., Any]]:
    return {
        commands.SignUp: partial(sign_up, identity=identity),
        commands.PasswordGrant: partial(password_grant, identity=identity),
        commands.RefreshGrant: partial(refresh_grant, identity=identity),
        commands.Logout: partial(logout, identity=identity),
        commands.RequestPasswordReset: partial(request_password_reset, identity=identity),
        commands.ConfirmPasswordReset: partial(confirm_password_reset, identity=identity),
    }
