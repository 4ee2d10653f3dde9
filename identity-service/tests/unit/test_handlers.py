"""The identity use cases through the message bus, on fakes and a clock we move."""

from __future__ import annotations

import logging

import pytest

from identity_service.domain import commands
from identity_service.domain.model import EmailTaken, Role
from identity_service.domain.throttle import TooManyAttempts
from identity_service.domain.tokens import InvalidGrant, InvalidResetToken, RefreshTokenReused
from identity_service.service_layer.handlers import (
    BAD_CREDENTIALS,
    command_handlers,
    send_reset_notice,
)
from service_kit.messagebus import MessageBus

from .fakes import Clock, FakeHasher, FakeNotifier, FakeSigner, FakeUnitOfWork, identity

ADDRESS = "10.0.0.1"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


@pytest.fixture
def signer() -> FakeSigner:
    return FakeSigner()


@pytest.fixture
def bus(uow, clock, hasher, signer) -> MessageBus:
    return MessageBus(lambda _: uow, commands=command_handlers(identity(clock, hasher, signer)))


async def sign_up(bus, email="kim@example.com", role=Role.CUSTOMER, region=None):
    account = await bus.handle(commands.SignUp(email, "correct horse", role, "Kim", region))
    return account.account_id


def login(email="kim@example.com", password="correct horse", address=ADDRESS):
    return commands.PasswordGrant(email, password, address)


async def test_sign_up_stores_a_hash_and_refuses_the_same_email_twice(bus, uow):
    account_id = await sign_up(bus)

    assert uow.accounts.rows[account_id].password_hash == "hashed:correct horse"
    with pytest.raises(EmailTaken):
        await sign_up(bus, email="KIM@example.com ")


async def test_a_login_issues_an_access_token_with_the_boards_claims(bus, signer, clock):
    account_id = await sign_up(bus, role=Role.RIDER, region="gangnam")

    tokens = await bus.handle(login())

    assert tokens.access_token == "access-1" and tokens.expires_in == 900
    claims = signer.signed[0]
    assert claims["sub"] == account_id and claims["role"] == "rider"
    assert claims["region"] == "gangnam"
    assert claims["iss"] == "http://issuer.test" and claims["aud"] == "fooddelivery"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]


async def test_an_unknown_email_is_checked_against_the_dummy_hash_and_answered_alike(bus, hasher):
    await sign_up(bus)

    with pytest.raises(InvalidGrant) as wrong_password:
        await bus.handle(login(password="wrong"))
    with pytest.raises(InvalidGrant) as unknown:
        await bus.handle(login(email="nobody@example.com"))

    assert str(wrong_password.value) == str(unknown.value) == BAD_CREDENTIALS
    assert hasher.checked == ["hashed:correct horse", "hashed:<nobody>"]


async def test_the_sixth_wrong_password_waits_while_another_account_logs_in(bus, clock):
    await sign_up(bus)
    await sign_up(bus, email="lee@example.com")

    for _ in range(5):
        with pytest.raises(InvalidGrant):
            await bus.handle(login(password="wrong", address=f"10.0.0.{_}"))
    with pytest.raises(TooManyAttempts) as refused:
        await bus.handle(login())  # even the right password, while locked

    assert refused.value.retry_after_s == 15 * 60
    assert await bus.handle(login(email="lee@example.com"))

    clock.advance(minutes=15)
    assert await bus.handle(login())


async def test_failures_from_one_address_are_limited_across_accounts(bus):
    await sign_up(bus, email="other@example.com")
    for n in range(20):
        with pytest.raises(InvalidGrant):
            await bus.handle(login(email=f"user{n}@example.com"))

    with pytest.raises(TooManyAttempts):
        await bus.handle(login(email="other@example.com"))
    assert await bus.handle(login(email="other@example.com", address="10.9.9.9"))


async def test_a_good_login_clears_the_accounts_failures(bus):
    await sign_up(bus)
    for _ in range(4):
        with pytest.raises(InvalidGrant):
            await bus.handle(login(password="wrong"))
    await bus.handle(login())

    for _ in range(4):  # a fresh allowance, not one left
        with pytest.raises(InvalidGrant):
            await bus.handle(login(password="wrong"))
    assert await bus.handle(login())


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(bus, uow, clock):
    await sign_up(bus)
    first = await bus.handle(login())

    clock.advance(minutes=20)
    second = await bus.handle(commands.RefreshGrant(first.refresh_token))
    assert second.refresh_token != first.refresh_token

    with pytest.raises(RefreshTokenReused):
        await bus.handle(commands.RefreshGrant(first.refresh_token))
    with pytest.raises(InvalidGrant):  # the legitimate newest token died with the family
        await bus.handle(commands.RefreshGrant(second.refresh_token))
    assert all(f.revoked for f in uow.refresh_families.rows.values())


async def test_logout_revokes_the_session_and_leaves_others(bus):
    await sign_up(bus)
    phone, laptop = await bus.handle(login()), await bus.handle(login())

    await bus.handle(commands.Logout(phone.refresh_token))
    await bus.handle(commands.Logout("never-issued"))  # no error, nothing to say

    with pytest.raises(InvalidGrant):
        await bus.handle(commands.RefreshGrant(phone.refresh_token))
    assert await bus.handle(commands.RefreshGrant(laptop.refresh_token))


async def test_a_reset_token_sets_a_new_password_once_and_ends_every_session(bus, uow, clock):
    await sign_up(bus)
    session = await bus.handle(login())
    notice = await bus.handle(commands.RequestPasswordReset("Kim@Example.com"))
    notifier = FakeNotifier()
    await send_reset_notice(notice, notifier)
    (_, email, token) = notifier.sent[0]
    assert email == "kim@example.com"

    await bus.handle(commands.ConfirmPasswordReset(token, "battery staple"))

    assert await bus.handle(login(password="battery staple"))
    with pytest.raises(InvalidGrant):
        await bus.handle(login(password="correct horse"))
    with pytest.raises(InvalidGrant):
        await bus.handle(commands.RefreshGrant(session.refresh_token))
    with pytest.raises(InvalidResetToken):
        await bus.handle(commands.ConfirmPasswordReset(token, "third password"))


async def test_a_reset_token_expires_after_thirty_minutes(bus, clock):
    await sign_up(bus)
    notice = await bus.handle(commands.RequestPasswordReset("kim@example.com"))

    clock.advance(minutes=30)
    with pytest.raises(InvalidResetToken):
        await bus.handle(commands.ConfirmPasswordReset(notice.token, "battery staple"))


async def test_a_reset_for_an_unknown_email_issues_nothing(bus, uow):
    assert await bus.handle(commands.RequestPasswordReset("nobody@example.com")) is None
    assert uow.reset_tokens.rows == {}


async def test_a_failing_notifier_is_logged_without_email_or_token(bus, caplog):
    await sign_up(bus)
    notice = await bus.handle(commands.RequestPasswordReset("kim@example.com"))

    with caplog.at_level(logging.INFO):
        await send_reset_notice(notice, FakeNotifier(fail=True))

    assert notice.account_id in caplog.text
    assert "kim@example.com" not in caplog.text and notice.token not in caplog.text


def test_commands_never_show_secrets_or_emails_in_their_repr():
    shown = repr(commands.PasswordGrant("kim@example.com", "correct horse", ADDRESS))
    shown += repr(commands.ConfirmPasswordReset("reset-secret", "battery staple"))
    for secret in ("kim@example.com", "correct horse", "reset-secret", "battery staple"):
        assert secret not in shown
