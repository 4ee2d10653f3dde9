"""The token and throttle rules on their own, with times we choose."""

from datetime import UTC, datetime, timedelta

import pytest

from identity_service.domain.model import Account, Role
from identity_service.domain.throttle import TooManyAttempts, Window, check
from identity_service.domain.tokens import (
    InvalidGrant,
    InvalidResetToken,
    RefreshFamily,
    RefreshTokenReused,
    ResetToken,
)
from service_kit.kernel import InvalidInput

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_refresh_token_rotates_and_only_the_newest_is_valid():
    family = RefreshFamily.start("f1", "a1", "h1", T0, DAY)

    family.rotate("h1", "h2", T0 + timedelta(minutes=1), DAY)
    family.rotate("h2", "h3", T0 + timedelta(minutes=2), DAY)

    assert family.current_hash == "h3" and not family.revoked


def test_a_rotated_token_presented_again_revokes_the_whole_family():
    family = RefreshFamily.start("f1", "a1", "h1", T0, DAY)
    family.rotate("h1", "h2", T0, DAY)

    with pytest.raises(RefreshTokenReused):
        family.rotate("h1", "hx", T0 + timedelta(minutes=1), DAY)

    assert family.revoked
    with pytest.raises(InvalidGrant):  # the thief's newest token is dead too
        family.rotate("h2", "h3", T0 + timedelta(minutes=2), DAY)


def test_an_expired_or_revoked_refresh_token_grants_nothing():
    family = RefreshFamily.start("f1", "a1", "h1", T0, DAY)
    with pytest.raises(InvalidGrant):
        family.rotate("h1", "h2", T0 + DAY, DAY)

    family = RefreshFamily.start("f2", "a1", "h1", T0, DAY)
    family.revoke(T0)
    with pytest.raises(InvalidGrant):
        family.rotate("h1", "h2", T0, DAY)


def test_a_reset_token_is_redeemed_once():
    token = ResetToken.issue("r1", "a1", T0, timedelta(minutes=30))

    token.redeem(T0 + timedelta(minutes=5))
    with pytest.raises(InvalidResetToken):
        token.redeem(T0 + timedelta(minutes=6))


def test_a_reset_token_expires():
    token = ResetToken.issue("r1", "a1", T0, timedelta(minutes=30))

    with pytest.raises(InvalidResetToken):
        token.redeem(T0 + timedelta(minutes=30))
    assert token.used_at is None


def test_the_window_admits_limit_failures_then_waits_until_the_oldest_leaves():
    window = Window(limit=5, period=timedelta(minutes=15))
    failures = [T0 + timedelta(minutes=i) for i in range(5)]  # 12:00 .. 12:04

    assert window.retry_after(failures[:4], T0 + timedelta(minutes=5)) is None
    assert window.retry_after(failures, T0 + timedelta(minutes=5)) == 10 * 60
    # 12:15: the 12:00 failure has left the window, one attempt is free again.
    assert window.retry_after(failures, T0 + timedelta(minutes=15)) is None


def test_the_longest_wait_of_all_windows_is_named():
    short = Window(limit=1, period=timedelta(seconds=10))
    long = Window(limit=1, period=timedelta(minutes=10))

    with pytest.raises(TooManyAttempts) as refused:
        check([(short, [T0]), (long, [T0])], T0 + timedelta(seconds=1))

    assert refused.value.retry_after_s == 599


def test_a_rider_names_a_region_and_only_a_rider_keeps_one():
    with pytest.raises(InvalidInput):
        Account.sign_up("a1", "R@X.io", "h", Role.RIDER, "Rider", None, T0)

    owner = Account.sign_up("a2", " Owner@X.io ", "h", Role.OWNER, "Owner", "gangnam", T0)
    assert owner.region is None and owner.email == "owner@x.io"
    assert "region" not in owner.access_claims(
        issuer="i", audience="a", now=T0, ttl=timedelta(minutes=15), jti="j"
    )
