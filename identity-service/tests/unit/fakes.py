"""In-memory repositories, unit of work and collaborators: the handlers run unchanged on them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from identity_service.domain.model import Account
from identity_service.domain.tokens import RefreshFamily, ResetToken
from identity_service.service_layer.handlers import Identity
from identity_service.service_layer.ports import Policy
from identity_service.service_layer.unit_of_work import PRODUCER, UnitOfWork
from service_kit.uow import FakeUnitOfWork as _FakeUnitOfWork
from service_kit.uow import Repository


class FakeAccounts(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Account] = {}

    async def get(self, account_id: str) -> Account | None:
        return self._track(self.rows.get(account_id))

    async def by_email(self, email: str) -> Account | None:
        return self._track(next((a for a in self.rows.values() if a.email == email), None))

    def add(self, account: Account) -> None:
        self.rows[account.account_id] = self._track(account)


class FakeRefreshFamilies(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, RefreshFamily] = {}
        self.tokens: dict[str, str] = {}  # token hash -> family id

    def add(self, family: RefreshFamily) -> None:
        self.rows[family.family_id] = self._track(family)

    async def remember(self, token_hash: str, family_id: str, now: datetime) -> None:
        self.tokens[token_hash] = family_id

    async def by_token(self, token_hash: str) -> RefreshFamily | None:
        family_id = self.tokens.get(token_hash)
        return self._track(self.rows.get(family_id)) if family_id else None

    async def of_account(self, account_id: str) -> list[RefreshFamily]:
        return [self._track(f) for f in self.rows.values() if f.account_id == account_id]


class FakeResetTokens(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, ResetToken] = {}

    async def get(self, token_hash: str) -> ResetToken | None:
        return self._track(self.rows.get(token_hash))

    def add(self, token: ResetToken) -> None:
        self.rows[token.token_hash] = self._track(token)


class FakeLoginFailures:
    def __init__(self) -> None:
        self.rows: list[tuple[str, datetime]] = []

    async def since(self, key: str, since: datetime) -> list[datetime]:
        return [at for k, at in self.rows if k == key and at > since]

    async def record(self, key: str, at: datetime) -> None:
        self.rows.append((key, at))

    async def clear(self, key: str) -> None:
        self.rows = [(k, at) for k, at in self.rows if k != key]

    async def prune(self, *, before: datetime) -> None:
        self.rows = [(k, at) for k, at in self.rows if at > before]


class FakeUnitOfWork(_FakeUnitOfWork, UnitOfWork):
    def __init__(self) -> None:
        super().__init__(PRODUCER)
        self.accounts = FakeAccounts()
        self.refresh_families = FakeRefreshFamilies()
        self.reset_tokens = FakeResetTokens()
        self.login_failures = FakeLoginFailures()

    def repositories(self) -> Iterable[Repository]:
        return (self.accounts, self.refresh_families, self.reset_tokens)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeHasher:
    """Not a hash at all: enough to see which stored value a password was checked against."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        return f"hashed:{password}"

    def verify(self, password: str, password_hash: str) -> bool:
        self.checked.append(password_hash)
        return password_hash == f"hashed:{password}"


class FakeSigner:
    def __init__(self) -> None:
        self.signed: list[dict[str, Any]] = []

    def sign(self, claims: dict[str, Any]) -> str:
        self.signed.append(claims)
        return f"access-{len(self.signed)}"


class FakeNotifier:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail

    async def send_password_reset(self, account_id: str, email: str, token: str) -> None:
        if self.fail:
            raise ConnectionError("mail gateway down")
        self.sent.append((account_id, email, token))


class Counter:
    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n}"


def identity(clock: Clock, hasher: FakeHasher, signer: FakeSigner) -> Identity:
    return Identity(
        policy=Policy(issuer="http://issuer.test", audience="fooddelivery"),
        hasher=hasher,
        signer=signer,
        clock=clock,
        dummy_hash="hashed:<nobody>",
        new_id=Counter("id-"),
        new_secret=Counter("secret-"),
    )
