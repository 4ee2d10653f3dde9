"""Repositories of the Customer context: the `order_status` read model and the
customers' contact details."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mypage_service.domain.model import OrderStatusView
from mypage_service.domain.notification import OrderContact
from service_kit.uow import Repository


class OrderStatusRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session

    async def get(self, order_id: str) -> OrderStatusView | None:
        return self._track(await self._session.get(OrderStatusView, order_id))

    def add(self, view: OrderStatusView) -> None:
        self._session.add(self._track(view))


class ContactRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session

    async def get(self, order_id: str) -> OrderContact | None:
        return await self._session.get(OrderContact, order_id)

    def add(self, contact: OrderContact) -> None:
        self._session.add(contact)
