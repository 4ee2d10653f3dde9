"""Policies of the Kitchen context: whenever an order's event arrives, update its ticket
and let the menu's stock follow.

A policy runs inside the transaction the bus opened (`apply_once`), next to the
inbox record of the event, so it neither enters nor commits the unit of work; the
ticket, the menu items and the outbox rows of what they raised commit together.
Any of these events may be the first of its order to arrive, so each one creates
the ticket as a placeholder when there is none yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from service_kit.kernel import EventMeta
from shared_events.contract import (
    DeliveryConfirmed,
    DeliveryReturned,
    OrderCancelled,
    OrderPlaced,
)
from store_service.domain.stock import reconcile_stock, stock_move_needed
from store_service.domain.store_order import StoreOrder, TicketLine
from store_service.service_layer.unit_of_work import UnitOfWork

# Ids, counts and states only: tickets hold nothing personal, and nothing personal is logged.
log = logging.getLogger(__name__)


async def register_store_order(
    event: OrderPlaced, meta: EventMeta, uow: UnitOfWork, *, acceptance_window: timedelta
) -> None:
    """Whenever OrderPlaced: the ticket enters the store owner's inbox as RECEIVED, to
    be decided within the acceptance window counted from the placement (the event's
    time, so a redelivery or a late arrival computes the same deadline)."""
    at = meta.occurred_at  # the ticket's times follow the facts, not their arrival
    ticket = await _ticket(event.order_id, at, uow)
    lines = [TicketLine(i.menu_item_id, i.name, i.quantity) for i in event.items]
    placed = ticket.place(
        event.store_id, event.customer_id, lines, event.total_amount, at, acceptance_window
    )
    if placed:
        if await uow.stores.get(event.store_id) is None:
            log.warning("store order %s: store %s is unknown here", ticket.order_id, event.store_id)
        log.debug(
            "store order %s received at store %s: %d line(s), now %s, accept by %s",
            ticket.order_id,
            event.store_id,
            len(lines),
            ticket.status,
            ticket.accept_by.isoformat() if ticket.accept_by else "-",
        )
    await _follow_stock(ticket, uow)


async def cancel_store_order(event: OrderCancelled, meta: EventMeta, uow: UnitOfWork) -> None:
    """Whenever OrderCancelled: the ticket is CANCELLED and CookingCancelled is published,
    once; a REJECTED ticket stays as it is."""
    at = meta.occurred_at  # the ticket's times follow the facts, not their arrival
    ticket = await _ticket(event.order_id, at, uow)
    if ticket.cancel(event.store_id, event.customer_id, at):
        log.debug("store order %s cancelled", ticket.order_id)
    else:
        log.debug("store order %s stays %s on OrderCancelled", ticket.order_id, ticket.status)
    await _follow_stock(ticket, uow)


async def take_stock_on_delivery(
    event: DeliveryConfirmed, meta: EventMeta, uow: UnitOfWork
) -> None:
    """Whenever DeliveryConfirmed: the ordered quantities leave the menu's stock."""
    await _learn_delivery_fact(event.order_id, meta, uow, StoreOrder.mark_delivered)


async def give_back_stock_on_return(
    event: DeliveryReturned, meta: EventMeta, uow: UnitOfWork
) -> None:
    """Whenever DeliveryReturned: the stock the order took comes back."""
    await _learn_delivery_fact(event.order_id, meta, uow, StoreOrder.mark_returned)


async def _learn_delivery_fact(
    order_id: str, meta: EventMeta, uow: UnitOfWork, mark: Callable[[StoreOrder, datetime], bool]
) -> None:
    at = meta.occurred_at  # the ticket's times follow the facts, not their arrival
    ticket = await _ticket(order_id, at, uow)
    mark(ticket, at)
    await _follow_stock(ticket, uow)


async def _ticket(order_id: str, at: datetime, uow: UnitOfWork) -> StoreOrder:
    ticket = await uow.store_orders.get(order_id)
    if ticket is None:
        ticket = StoreOrder(order_id, at)
        uow.store_orders.add(ticket)
    return ticket


async def _follow_stock(ticket: StoreOrder, uow: UnitOfWork) -> None:
    """Move stock when the ticket's state says so, through the MenuItems (so each move
    is published as MenuItemChanged and the order-service's replica follows)."""
    if not stock_move_needed(ticket):
        return
    assert ticket.store_id is not None, "a ticket that knows its items knows its store"
    menu = await uow.menu_items.for_store(ticket.store_id, ticket.quantities().keys())
    move = reconcile_stock(ticket, menu)
    log.debug("store order %s: stock %s %s", ticket.order_id, move.direction, move.moved)
    for short in move.shortfalls:
        if short.unknown:
            log.warning(
                "store order %s: item %s/%s is unknown here; its stock was not moved",
                ticket.order_id,
                ticket.store_id,
                short.menu_item_id,
            )
        else:
            log.warning(
                "store order %s: item %s/%s had %d of %d in stock; stock stops at 0",
                ticket.order_id,
                ticket.store_id,
                short.menu_item_id,
                short.moved,
                short.wanted,
            )
