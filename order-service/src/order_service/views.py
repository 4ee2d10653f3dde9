"""Read queries of the Ordering context (straight SQL, no aggregates), each a function
of a Core connection run with `platform.reads` (service_kit.reads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, select

from order_service.adapters.orm import orders, payments
from order_service.domain.model import NotOrderOwner, Order, OrderNotFound, OrderStatus
from order_service.domain.payment import Payment, PaymentStatus
from service_kit.http import Timestamp
from service_kit.reads import stable


class OrderLineView(BaseModel):
    menu_item_id: str
    name: str
    unit_price: int
    quantity: int
    line_total: int


class AddressView(BaseModel):
    line: str
    region: str


class PaymentView(BaseModel):
    status: PaymentStatus
    amount: int


class OrderView(BaseModel):
    """An order as its customer sees it (GET, POST and DELETE /orders answer it)."""

    order_id: str
    customer_id: str
    store_id: str
    status: OrderStatus
    total_amount: int
    items: list[OrderLineView]
    delivery_address: AddressView
    phone: str
    placed_at: Timestamp
    payment: PaymentView | None


# Built once: every GET, POST and DELETE /orders answers with it.
_ORDER = (
    select(
        orders,
        payments.c.status.label("payment_status"),
        payments.c.amount.label("payment_amount"),
    )
    .outerjoin(payments, payments.c.order_id == orders.c.order_id)
    .where(orders.c.order_id == bindparam("order_id"))
)


@stable  # polled by every customer's client: read again only once something committed
def order_for_customer(conn: Connection, order_id: str, customer_id: str) -> dict[str, Any]:
    """The order as its customer sees it; 404 when unknown, 403 for anyone else."""
    row = conn.execute(_ORDER, {"order_id": order_id}).first()
    if row is None:
        raise OrderNotFound(order_id)
    if row.customer_id != customer_id:
        raise NotOrderOwner(order_id)
    # Every stored order has its payment (they commit together).
    payment = None if row.payment_status is None else (row.payment_status, row.payment_amount)
    return _shaped(row, row.address_line, row.address_region, payment)


def placed_order(order: Order, payment: Payment) -> dict[str, Any]:
    """What order_for_customer reads back for an order and its payment just committed
    together by its customer (POST /orders answers it without reading again)."""
    address = order.delivery_address
    return _shaped(order, address.line, address.region, (payment.status, payment.amount))


def _shaped(
    order: Any, address_line: str, address_region: str, payment: tuple[PaymentStatus, int] | None
) -> dict[str, Any]:
    """OrderView's shape from a stored row or an Order: their fields share names."""
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "store_id": order.store_id,
        "status": order.status.value,
        "total_amount": order.total_amount,
        "items": [
            {
                "menu_item_id": line.menu_item_id,
                "name": line.name,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "line_total": line.line_total,
            }
            for line in order.lines
        ],
        "delivery_address": {"line": address_line, "region": address_region},
        "phone": order.phone,
        "placed_at": order.placed_at.isoformat(),
        "payment": None if payment is None else {"status": payment[0].value, "amount": payment[1]},
    }
