"""The identity context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.adapters.repository import (
    AccountRepository,
    LoginFailures,
    RefreshFamilyRepository,
    ResetTokenRepository,
)
from service_kit.uow import Repository
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "identity-service"


class UnitOfWork(_UnitOfWork):
    accounts: AccountRepository
    refresh_families: RefreshFamilyRepository
    reset_tokens: ResetTokenRepository
    login_failures: LoginFailures

    def repositories(self) -> Iterable[Repository]:
        return (self.accounts, self.refresh_families, self.reset_tokens)


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        self.accounts = AccountRepository(session)
        self.refresh_families = RefreshFamilyRepository(session)
        self.reset_tokens = ResetTokenRepository(session)
        self.login_failures = LoginFailures(session)
