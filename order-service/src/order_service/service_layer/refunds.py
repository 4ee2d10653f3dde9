"""The refund dispatcher: gives back the charge of every payment left REFUND_PENDING.

A ClaimLoop of the API process (beside the outbox relay). REFUND_PENDING is
written in the transaction that rejected or cancelled the order, so the owed
refund survives any crash; this loop works that to-do list off:

* woken after the commit by the internal RefundDue event when the decision was
  taken in this process (a cancel), and by the worker's commit when it was taken
  there (a rejection: unit_of_work.REFUNDS_OWED, over service_kit.wake); the poll
  every `poll_interval` is the backstop for a lost wake;
* each refund is claimed (service_kit.claims) in the unit of work that gives it
  back: the payment row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL) while the
  gateway is called and the payment is marked REFUNDED, so two API replicas never
  refund one order at the same time, and the lock is held only for that one
  refund. A crash or failed commit in between leaves it REFUND_PENDING and the
  refund is asked for again: the gateway is idempotent per order, so the money
  goes back exactly once;
* a gateway failure leaves the payment REFUND_PENDING; the pass goes on with the
  other refunds and is retried with exponential backoff, never dropped.

`Refunds` is that to-do list in the board's words; service_kit.claims.ClaimLoop
works it off (bootstrap.py wires the two).
"""

from __future__ import annotations

import logging

from order_service.adapters.payment import PaymentGateway
from order_service.service_layer.unit_of_work import UnitOfWork
from service_kit.claims import Claims, Pacing
from shared_events.envelope import utcnow

log = logging.getLogger(__name__)

# Every commit that leaves a refund owed wakes the loop: the poll only finds what a
# lost wake left behind.
PACING = Pacing(poll_interval=5.0)


class Refunds(Claims[str, UnitOfWork]):
    """The payments left REFUND_PENDING, by order id: each charge given back once."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    async def due(self, uow: UnitOfWork, limit: int) -> list[str]:
        return await uow.payments.refund_pending(limit)

    def failed(self, item: str, exc: Exception) -> None:
        log.warning(
            "refund of order %s failed (%s: %s); stays pending", item, type(exc).__name__, exc
        )

    async def act(self, uow: UnitOfWork, item: str) -> int:
        payment = await uow.payments.claim_refund(item)
        if payment is None:
            return 0  # another dispatcher has it, or finished it meanwhile
        await self._gateway.refund(item, payment.reference, payment.amount)
        if not payment.mark_refunded(utcnow()):
            return 0
        await uow.commit()
        log.info("order %s: %d won refunded (charge %s)", item, payment.amount, payment.reference)
        return 1
