"""Repository of the Delivery aggregate."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from delivery_service.domain.model import Delivery
from service_kit.uow import Repository


class DeliveryRepository(Repository):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self._session = session

    async def get(self, order_id: str) -> Delivery | None:
        return self._track(await self._session.get(Delivery, order_id))

    def add(self, delivery: Delivery) -> None:
        self._session.add(self._track(delivery))
