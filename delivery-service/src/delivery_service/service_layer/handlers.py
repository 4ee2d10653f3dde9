"""Rider commands of the Delivery context: load, decide, commit.

A command that loses an optimistic version check (another rider's pick, or a
policy cancelling the delivery, committed between our read and our write) is
retried from a fresh read, so the loser gets the state check's answer (409 with
the current state) instead of a bare "changed concurrently".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from delivery_service.domain import commands
from delivery_service.domain.model import Delivery, DeliveryNotFound
from delivery_service.service_layer.unit_of_work import UnitOfWork
from service_kit.retry import decided_again_when_stale
from shared_events.envelope import utcnow

# Ids and states only: never the address.
log = logging.getLogger(__name__)


async def pick_food(cmd: commands.PickFood, uow: UnitOfWork) -> Delivery:
    return await _decide(uow, cmd.order_id, lambda d, now: d.pick(cmd.rider_id, now))


async def confirm_delivery(cmd: commands.ConfirmDelivery, uow: UnitOfWork) -> Delivery:
    return await _decide(uow, cmd.order_id, lambda d, now: d.confirm(cmd.rider_id, now))


async def return_delivery(cmd: commands.ReturnDelivery, uow: UnitOfWork) -> Delivery:
    return await _decide(
        uow, cmd.order_id, lambda d, now: d.return_food(cmd.rider_id, cmd.reason, now)
    )


@decided_again_when_stale
async def _decide(
    uow: UnitOfWork, order_id: str, decide: Callable[[Delivery, datetime], None]
) -> Delivery:
    async with uow:
        delivery = await uow.deliveries.get(order_id)
        if delivery is None or not delivery.is_offered:
            raise DeliveryNotFound(order_id)
        decide(delivery, utcnow())
        await uow.commit()
    log.debug("delivery %s is %s (rider %s)", order_id, delivery.status, delivery.rider_id)
    return delivery
