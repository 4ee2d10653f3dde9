"""Command handlers and policies of the Ordering context."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from order_service.adapters.payment import PaymentGateway
from order_service.domain import commands
from order_service.domain.menu import MenuItemReplica, price_items
from order_service.domain.model import IdempotencyKeyReused, Order
from order_service.domain.payment import Payment
from order_service.service_layer.unit_of_work import UnitOfWork
from shared_events.contract import MenuItemChanged
from shared_events.envelope import utcnow

# Log ids and amounts only: never a phone number or an address.
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placed:
    order_id: str
    created: bool  # False when an Idempotency-Key replay found the existing order


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
    log.info(
        "order %s placed: customer %s, store %s, %d line(s), %d won",
        order.order_id,
        order.customer_id,
        order.store_id,
        len(order.lines),
        order.total_amount,
    )
    return Placed(order.order_id, created=True)


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


async def keep_menu_replica(event: MenuItemChanged, uow: UnitOfWork) -> None:
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
