"""Repositories of the Ordering context, on Core (service_kit.repository)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, select

from order_service.adapters.orm import menu_replica, orders, payments
from order_service.domain.menu import MenuItemReplica
from order_service.domain.model import DeliveryAddress, Order
from order_service.domain.payment import Payment, PaymentStatus
from service_kit.claims import claimed
from service_kit.db import execute
from service_kit.repository import RowRepository


class OrderRepository(RowRepository[Order]):
    entity = Order  # by order id
    table = orders
    composites = {"delivery_address": (DeliveryAddress, ("address_line", "address_region"))}

    async def get_by_idempotency_key(self, customer_id: str, key: str) -> Order | None:
        found = await self._fetch(_BY_IDEMPOTENCY_KEY, {"customer_id": customer_id, "key": key})
        return found[0] if found else None


class PaymentRepository(RowRepository[Payment]):
    entity = Payment  # by order id
    table = payments

    async def refund_pending(self, limit: int) -> list[str]:
        """Order ids whose refund is owed, oldest request first."""
        found = await execute(self._session, _REFUND_PENDING, {"limit": limit})
        return list(found.scalars())

    async def claim_refund(self, order_id: str) -> Payment | None:
        """The order's payment if its refund is still owed and no one else holds it:
        locked until the transaction ends (service_kit.claims)."""
        found = await self._fetch(_CLAIM_REFUND, {"order_id": order_id})
        return found[0] if found else None


class MenuReplicaRepository(RowRepository[MenuItemReplica]):
    entity = MenuItemReplica  # by (store id, menu item id)
    table = menu_replica

    async def for_store(
        self, store_id: str, menu_item_ids: Collection[str]
    ) -> dict[str, MenuItemReplica]:
        """The store's replicated items among `menu_item_ids`, by item id."""
        found = await self._fetch(
            _MENU_ITEMS, {"store_id": store_id, "item_ids": sorted(menu_item_ids)}
        )
        return {item.menu_item_id: item for item in found}


# Built once: a statement's construction and cache key cost more than running it.
_BY_IDEMPOTENCY_KEY = select(orders).where(
    orders.c.customer_id == bindparam("customer_id"),
    orders.c.idempotency_key == bindparam("key"),
)
_REFUND_OWED = payments.c.status == PaymentStatus.REFUND_PENDING
_REFUND_PENDING = (
    select(payments.c.order_id)
    .where(_REFUND_OWED)
    .order_by(payments.c.refund_requested_at, payments.c.order_id)
    .limit(bindparam("limit"))
)
_CLAIM_REFUND = claimed(
    select(payments).where(payments.c.order_id == bindparam("order_id"), _REFUND_OWED)
)
_MENU_ITEMS = select(menu_replica).where(
    menu_replica.c.store_id == bindparam("store_id"),
    menu_replica.c.menu_item_id.in_(bindparam("item_ids", expanding=True)),
)
