"""Policies of the Delivery context: whenever an order event arrives, fold it into
the order's Delivery record.

A policy runs inside the transaction the bus opened (`apply_once`), next to the
inbox record of the event, so it neither enters nor commits the unit of work.
Any of the three events may be the first one of its order to arrive.
"""

from __future__ import annotations

import logging
from datetime import datetime

from delivery_service.domain.model import Delivery
from delivery_service.service_layer.unit_of_work import UnitOfWork
from service_kit.kernel import EventMeta, required
from shared_events.contract import CookStarted, OrderCancelled, OrderPlaced

# Ids and states only: never the address.
log = logging.getLogger(__name__)


async def keep_delivery_address(event: OrderPlaced, meta: EventMeta, uow: UnitOfWork) -> None:
    """Whenever OrderPlaced: keep the delivery address and region (a local copy)."""
    at = required(meta).occurred_at
    delivery = await _delivery_of(uow, event.order_id, at)
    delivery.learn_placement(
        event.store_id,
        event.customer_id,
        event.delivery_address.line,
        event.delivery_address.region,
        at,
    )
    _log(delivery, "OrderPlaced")


async def open_delivery(event: CookStarted, meta: EventMeta, uow: UnitOfWork) -> None:
    """Whenever CookStarted: open the Delivery (WAITING) for riders in the region,
    once the address is known and unless the order was cancelled."""
    at = required(meta).occurred_at
    delivery = await _delivery_of(uow, event.order_id, at)
    delivery.learn_cook_started(event.store_id, at)
    _log(delivery, "CookStarted")


async def cancel_delivery(event: OrderCancelled, meta: EventMeta, uow: UnitOfWork) -> None:
    """Whenever OrderCancelled: cancel the Delivery, or never open one
    (DeliveryCancelled, once per order)."""
    at = required(meta).occurred_at
    delivery = await _delivery_of(uow, event.order_id, at)
    delivery.learn_cancelled(event.store_id, event.customer_id, at)
    _log(delivery, "OrderCancelled")


async def _delivery_of(uow: UnitOfWork, order_id: str, at: datetime) -> Delivery:
    delivery = await uow.deliveries.get(order_id)
    if delivery is None:
        delivery = Delivery(order_id, first_seen_at=at)
        uow.deliveries.add(delivery)
    return delivery


def _log(delivery: Delivery, event_type: str) -> None:
    log.debug("delivery %s is %s after %s", delivery.order_id, delivery.status, event_type)
