"""Repositories of the identity context, on Core (service_kit.repository)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.adapters.orm import (
    accounts,
    login_failures,
    refresh_families,
    refresh_tokens,
    reset_tokens,
)
from identity_service.domain.model import Account
from identity_service.domain.tokens import RefreshFamily, ResetToken
from service_kit.db import execute
from service_kit.repository import RowRepository


class AccountRepository(RowRepository[Account]):
    entity = Account  # by account id
    table = accounts

    async def by_email(self, email: str) -> Account | None:
        found = await self._fetch(_BY_EMAIL, {"email": email})
        return found[0] if found else None


class RefreshFamilyRepository(RowRepository[RefreshFamily]):
    entity = RefreshFamily  # by family id
    table = refresh_families

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._issued: list[dict[str, Any]] = []  # tokens to record at the commit

    async def remember(self, token_hash: str, family_id: str, now: datetime) -> None:
        """Record a token the family issued, so it is recognised when it comes back."""
        self._issued.append({"token_hash": token_hash, "family_id": family_id, "issued_at": now})

    async def save(self) -> None:
        await super().save()  # the family rows first (foreign key)
        issued, self._issued = self._issued, []
        if issued:
            await execute(self._session, _REMEMBER, issued)

    async def by_token(self, token_hash: str) -> RefreshFamily | None:
        found = await self._fetch(_BY_TOKEN, {"token_hash": token_hash})
        return found[0] if found else None

    async def of_account(self, account_id: str) -> list[RefreshFamily]:
        return await self._fetch(_OF_ACCOUNT, {"account_id": account_id})


class ResetTokenRepository(RowRepository[ResetToken]):
    entity = ResetToken  # by the token's digest
    table = reset_tokens


class LoginFailures:
    """The failed-login log the throttle reads; plain rows, no aggregate."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def since(self, key: str, since: datetime) -> list[datetime]:
        found = await execute(self._session, _FAILURES_SINCE, {"key": key, "since": since})
        return list(found.scalars())

    async def record(self, key: str, at: datetime) -> None:
        await execute(self._session, _RECORD_FAILURE, {"key": key, "failed_at": at})

    async def clear(self, key: str) -> None:
        await execute(self._session, _CLEAR_FAILURES, {"key": key})

    async def prune(self, *, before: datetime) -> None:
        """Forget failures no window looks at any more."""
        await execute(self._session, _PRUNE_FAILURES, {"before": before})


# Statements built once (service_kit.repository says why).
_BY_EMAIL = select(accounts).where(accounts.c.email == bindparam("email"))
_BY_TOKEN = (
    select(refresh_families)
    .join(refresh_tokens, refresh_tokens.c.family_id == refresh_families.c.family_id)
    .where(refresh_tokens.c.token_hash == bindparam("token_hash"))
)
_OF_ACCOUNT = select(refresh_families).where(
    refresh_families.c.account_id == bindparam("account_id")
)
_REMEMBER = insert(refresh_tokens)
_FAILURES_SINCE = select(login_failures.c.failed_at).where(
    login_failures.c.key == bindparam("key"), login_failures.c.failed_at > bindparam("since")
)
_RECORD_FAILURE = insert(login_failures)
_CLEAR_FAILURES = delete(login_failures).where(login_failures.c.key == bindparam("key"))
_PRUNE_FAILURES = delete(login_failures).where(login_failures.c.failed_at <= bindparam("before"))
