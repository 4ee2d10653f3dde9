"""Repositories of the Ordering context."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from order_service.adapters.orm import menu_replica, orders, payments
from order_service.domain.menu import MenuItemReplica
from order_service.domain.model import Order
from order_service.domain.payment import Payment, PaymentStatus
from service_kit.claims import claimed
from service_kit.uow import SqlRepository


class OrderRepository(SqlRepository[Order]):
    entity = Order  # by order id

    async def get_by_idempotency_key(self, customer_id: str, key: str) -> Order | None:
        found = await self._session.scalars(
            select(Order).where(
                orders.c.customer_id == customer_id,
                orders.c.idempotency_key == key,
            )
        )
        return self._track(found.first())


class PaymentRepository(SqlRepository[Payment]):
    entity = Payment  # by order id

    async def refund_pending(self, limit: int) -> list[str]:
        """Order ids whose refund is owed, oldest request first."""
        found = await self._session.scalars(
            select(payments.c.order_id)
            .where(payments.c.status == PaymentStatus.REFUND_PENDING)
            .order_by(payments.c.refund_requested_at, payments.c.order_id)
            .limit(limit)
        )
        return list(found)

    async def claim_refund(self, order_id: str) -> Payment | None:
        """The order's payment if its refund is still owed and no one else holds it:
        locked until the transaction ends (service_kit.claims)."""
        found = await self._session.scalars(
            claimed(
                select(Payment).where(
                    payments.c.order_id == order_id,
                    payments.c.status == PaymentStatus.REFUND_PENDING,
                )
            )
        )
        return self._track(found.first())


class MenuReplicaRepository(SqlRepository[MenuItemReplica]):
    entity = MenuItemReplica  # by (store id, menu item id)

    async def for_store(
        self, store_id: str, menu_item_ids: Collection[str]
    ) -> dict[str, MenuItemReplica]:
        """The store's replicated items among `menu_item_ids`, by item id."""
        found = await self._session.scalars(
            select(MenuItemReplica).where(
                menu_replica.c.store_id == store_id,
                menu_replica.c.menu_item_id.in_(menu_item_ids),
            )
        )
        return {item.menu_item_id: self._track(item) for item in found}
