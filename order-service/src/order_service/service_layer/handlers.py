"""Command handlers and policies of the Ordering context."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from order_service.adapters.payment import PaymentGateway
from order_service.domain import commands
from order_service.domain.menu import MenuItemReplica, price_items
from order_service.domain.model import IdempotencyKeyReused, Order, OrderNotFound
from order_service.domain.payment import Payment
from order_service.service_layer.unit_of_work import UnitOfWork
from service_kit.kernel import EventMeta
from service_kit.retry import decided_again_when_stale
from shared_events.contract import CookStarted, MenuItemChanged, OrderAccepted, OrderRejected
from shared_events.envelope import utcnow

# Log ids and amounts only: never a phone number or an address.
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placed:
    order_id: str
    created: bool  # False when an Idempotency-Key replay found the existing order
    # The order and its payment as this call committed them, so the answer needs no
    # read; None when they were found stored instead (a replay, a lost commit reply).
    committed: tuple[Order, Payment] | None = field(default=None, compare=False)


async def place_order(cmd: commands.PlaceOrder, uow: UnitOfWork, gateway: PaymentGateway) -> Placed:
    """Price from the replica, charge the card, then commit order + payment + OrderPlaced.

    Why charge before the commit: once OrderPlaced is in the outbox it will be
    published, and a declined card could then only be undone by a cancellation
    that every other context would see. Charging first means a decline leaves
    nothing behind. The cost of this ordering is the opposite window: a charge whose
    order fails to commit. That case is compensated with a refund (below); only a
    crash between charge and commit leaves a charge for reconciliation, which a
    real gateway narrows with authorise-then-capture. No database transaction is
    held open while the gateway is called.
    """
    fingerprint = cmd.fingerprint()
    async with uow:
        replay = await _replay(cmd, fingerprint, uow)
        if replay is not None:
            return replay
        menu = await uow.menu.for_store(cmd.store_id, {i.menu_item_id for i in cmd.items})
        lines = price_items(cmd.store_id, cmd.items, menu)

    now = utcnow()
    order = Order.place(
        str(uuid.uuid4()),
        cmd.customer_id,
        cmd.store_id,
        lines,
        cmd.delivery_address,
        cmd.phone,
        now,
        idempotency_key=cmd.idempotency_key,
        request_fingerprint=fingerprint if cmd.idempotency_key else None,
    )
    reference = await gateway.charge(order.order_id, order.total_amount, cmd.card_token)
    payment = Payment(order.order_id, reference, order.total_amount, now)
    try:
        async with uow:
            uow.orders.add(order)
            uow.payments.add(payment)
            await uow.commit()
    except Exception:
        settled = await _settle_failed_commit(cmd, fingerprint, order, payment, uow, gateway)
        if settled is None:
            raise
        return settled
    log.debug(
        "order %s placed: customer %s, store %s, %d line(s), %d won",
        order.order_id,
        order.customer_id,
        order.store_id,
        len(order.lines),
        order.total_amount,
    )
    return Placed(order.order_id, created=True, committed=(order, payment))


async def _replay(cmd: commands.PlaceOrder, fingerprint: str, uow: UnitOfWork) -> Placed | None:
    """The customer's earlier order with this Idempotency-Key, if there is one."""
    if cmd.idempotency_key is None:
        return None
    existing = await uow.orders.get_by_idempotency_key(cmd.customer_id, cmd.idempotency_key)
    if existing is None:
        return None
    if not existing.is_replay_of(fingerprint):
        raise IdempotencyKeyReused()
    log.info("order %s: Idempotency-Key replay", existing.order_id)
    return Placed(existing.order_id, created=False)


async def _settle_failed_commit(
    cmd: commands.PlaceOrder,
    fingerprint: str,
    order: Order,
    payment: Payment,
    uow: UnitOfWork,
    gateway: PaymentGateway,
) -> Placed | None:
    """The commit raised after the card was charged. If the order is stored after all
    (the reply was lost), it stands. Otherwise the charge is refunded, and the winner
    of an Idempotency-Key race is returned; None lets the original error through."""
    try:
        async with uow:
            if await uow.orders.get(order.order_id) is not None:
                return Placed(order.order_id, created=True)
    except Exception:
        log.warning("order %s: cannot tell whether the commit landed; refunding", order.order_id)
    await _refund(gateway, payment)
    if cmd.idempotency_key is None:
        return None
    async with uow:
        return await _replay(cmd, fingerprint, uow)


async def _refund(gateway: PaymentGateway, payment: Payment) -> None:
    try:
        await gateway.refund(payment.order_id, payment.reference, payment.amount)
        log.info("order %s was not stored; charge %s refunded", payment.order_id, payment.reference)
    except Exception:
        # Money taken for an order that does not exist: reconcile by hand.
        log.exception(
            "order %s: refund of charge %s failed; needs reconciliation",
            payment.order_id,
            payment.reference,
        )


async def keep_menu_replica(event: MenuItemChanged, meta: EventMeta, uow: UnitOfWork) -> None:
    """Policy: whenever MenuItemChanged, keep the newest revision of that item.
    Runs inside the bus's apply-once transaction, which commits it."""
    replica = await uow.menu.get(event.store_id, event.menu_item_id)
    if replica is None:
        uow.menu.add(MenuItemReplica.from_event(event))
    elif not replica.apply(event):
        log.info(
            "menu item %s/%s revision %d ignored: replica is at %d",
            event.store_id,
            event.menu_item_id,
            event.revision,
            replica.revision,
        )


# ---------------------------------------------------------------- cancel order


@decided_again_when_stale
async def cancel_order(cmd: commands.CancelOrder, uow: UnitOfWork) -> None:
    """CancelOrder: the order becomes CANCELLED, OrderCancelled goes to the outbox and
    the payment becomes REFUND_PENDING, all in one transaction.

    A store event applied by the worker between our read and our commit makes the
    commit fail its version check; the command is then decided again on the fresh
    state, so the customer gets a definite 200 or 409 instead of "retry"."""
    async with uow:
        order = await uow.orders.get(cmd.order_id)
        if order is None:
            raise OrderNotFound(cmd.order_id)
        order.cancel(cmd.customer_id)
        await _request_refunds(order, uow)
        await uow.commit()
    log.info("order %s cancelled by its customer", cmd.order_id)


# ---------------------------------------------------------------- store events
# Policies: whenever the kitchen decides, keep the order's local status (the cancel
# rule needs it). They run inside the bus's apply-once transaction, which commits.


async def order_accepted(event: OrderAccepted, meta: EventMeta, uow: UnitOfWork) -> None:
    order = await _order(event.order_id, uow)
    _applied(order, order.accept(), event)


async def cook_started(event: CookStarted, meta: EventMeta, uow: UnitOfWork) -> None:
    order = await _order(event.order_id, uow)
    _applied(order, order.start_cooking(), event)


async def order_rejected(event: OrderRejected, meta: EventMeta, uow: UnitOfWork) -> None:
    order = await _order(event.order_id, uow)
    if _applied(order, order.reject(), event):
        await _request_refunds(order, uow)


async def _order(order_id: str, uow: UnitOfWork) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        # The store learns of orders only from OrderPlaced, published after our
        # commit: an unknown order is an anomaly, parked by the consumer.
        raise OrderNotFound(order_id)
    return order


KitchenFact = OrderAccepted | OrderRejected | CookStarted


def _applied(order: Order, changed: bool, event: KitchenFact) -> bool:
    if changed:
        log.debug("%s takes order %s to %s", event.event_type, order.order_id, order.status)
    else:
        # Cancellation won, or the order is already past this point.
        log.debug("order %s stays %s: %s ignored", order.order_id, order.status, event.event_type)
    return changed


async def _request_refunds(order: Order, uow: UnitOfWork) -> None:
    """The payment takes the order's RefundDue in the same transaction: REFUND_PENDING
    is the durable to-do the refund dispatcher works off after the commit."""
    for due in order.refunds_due():
        payment = await uow.payments.get(due.order_id)
        if payment is None:
            log.error("order %s: no payment record to refund; needs reconciliation", due.order_id)
        elif payment.request_refund(utcnow()):
            log.info(
                "order %s %s: refund of %d won pending", due.order_id, due.reason, payment.amount
            )
