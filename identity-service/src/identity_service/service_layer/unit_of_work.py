"""The identity context's unit of work: its repositories on one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.adapters.repository import (
    AccountRepository,
    LoginFailures,
    RefreshFamilyRepository,
    ResetTokenRepository,
)
from service_kit.uow import SqlAlchemyUnitOfWork as _SqlAlchemyUnitOfWork
from service_kit.uow import UnitOfWork as _UnitOfWork

PRODUCER = "identity-service"


class UnitOfWork(_UnitOfWork):
    accounts: AccountRepository
    refresh_families: RefreshFamilyRepository
    reset_tokens: ResetTokenRepository
    login_failures: LoginFailures  # plain rows the throttle reads: no aggregates


class SqlAlchemyUnitOfWork(_SqlAlchemyUnitOfWork, UnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        super().bind(session)  # the declared repositories
        self.login_failures = LoginFailures(session)
