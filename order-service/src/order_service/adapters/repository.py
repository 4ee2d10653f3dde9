"""Repositories of the Ordering context."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from order_service.domain.menu import MenuItemReplica
from order_service.domain.model import Order
from order_service.domain.payment import Payment, PaymentStatus
from service_kit.uow import SqlRepository


class OrderRepository(SqlRepository[Order]):
    entity = Order  # by order id

    async def get_by_idempotency_key(self, customer_id: str, key: str) -> Order | None:
        found = await self._session.scalars(
            select(Order).where(
                Order.customer_id == customer_id,  # type: ignore[arg-type]
                Order.idempotency_key == key,  # type: ignore[arg-type]
            )
        )
        return self._track(found.first())


class PaymentRepository(SqlRepository[Payment]):
    entity = Payment  # by order id

    async def refund_pending(self, limit: int) -> list[str]:
        """Order ids whose refund is owed, oldest request first."""
        found = await self._session.scalars(
            select(Payment.order_id)  # type: ignore[arg-type]
            .where(Payment.status == PaymentStatus.REFUND_PENDING)  # type: ignore[arg-type]
            .order_by(Payment.refund_requested_at, Payment.order_id)  # type: ignore[arg-type]
            .limit(limit)
        )
        return list(found)


class MenuReplicaRepository(SqlRepository[MenuItemReplica]):
    entity = MenuItemReplica  # by (store id, menu item id)

    async def for_store(
        self, store_id: str, menu_item_ids: Collection[str]
    ) -> dict[str, MenuItemReplica]:
        """The store's replicated items among `menu_item_ids`, by item id."""
        found = await self._session.scalars(
            select(MenuItemReplica).where(
                MenuItemReplica.store_id == store_id,  # type: ignore[arg-type]
                MenuItemReplica.menu_item_id.in_(menu_item_ids),  # type: ignore[attr-defined]
            )
        )
        return {item.menu_item_id: self._track(item) for item in found}
