"""Repositories of the identity context."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.adapters.orm import accounts, login_failures, refresh_families, refresh_tokens
from identity_service.domain.model import Account
from identity_service.domain.tokens import RefreshFamily, ResetToken
from service_kit.uow import SqlRepository


class AccountRepository(SqlRepository[Account]):
    entity = Account

    async def by_email(self, email: str) -> Account | None:
        found = await self._session.scalar(select(Account).where(accounts.c.email == email))
        return self._track(found)


class RefreshFamilyRepository(SqlRepository[RefreshFamily]):
    entity = RefreshFamily

    async def remember(self, token_hash: str, family_id: str, now: datetime) -> None:
        """Record a token the family issued, so it is recognised when it comes back."""
        await self._session.flush()  # the family row first (foreign key)
        await self._session.execute(
            insert(refresh_tokens).values(token_hash=token_hash, family_id=family_id, issued_at=now)
        )

    async def by_token(self, token_hash: str) -> RefreshFamily | None:
        found = await self._session.scalar(
            select(RefreshFamily)
            .join(refresh_tokens, refresh_tokens.c.family_id == refresh_families.c.family_id)
            .where(refresh_tokens.c.token_hash == token_hash)
        )
        return self._track(found)

    async def of_account(self, account_id: str) -> list[RefreshFamily]:
        rows = await self._session.scalars(
            select(RefreshFamily).where(refresh_families.c.account_id == account_id)
        )
        return [self._track(family) for family in rows]


class ResetTokenRepository(SqlRepository[ResetToken]):
    entity = ResetToken


class LoginFailures:
    """The failed-login log the throttle reads; plain rows, no aggregate."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def since(self, key: str, since: datetime) -> list[datetime]:
        rows = await self._session.scalars(
            select(login_failures.c.failed_at).where(
                login_failures.c.key == key, login_failures.c.failed_at > since
            )
        )
        return list(rows)

    async def record(self, key: str, at: datetime) -> None:
        await self._session.execute(insert(login_failures).values(key=key, failed_at=at))

    async def clear(self, key: str) -> None:
        await self._session.execute(delete(login_failures).where(login_failures.c.key == key))

    async def prune(self, *, before: datetime) -> None:
        """Forget failures no window looks at any more."""
        await self._session.execute(
            delete(login_failures).where(login_failures.c.failed_at <= before)
        )
