"""The refund dispatcher: gives back the charge of every payment left REFUND_PENDING.

A WorkLoop of the API process (beside the outbox relay). REFUND_PENDING is
written in the transaction that rejected or cancelled the order, so the owed
refund survives any crash; this loop works that to-do list off:

* woken after the commit by the internal RefundDue event when the decision was
  taken in this process (a cancel), and polling every `poll_interval` otherwise
  (rejections are applied by the worker process, which runs no dispatcher);
* each refund is claimed (service_kit.claims) in the unit of work that gives it
  back: the payment row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL) while the
  gateway is called and the payment is marked REFUNDED, so two API replicas never
  refund one order at the same time, and the lock is held only for that one
  refund. A crash or failed commit in between leaves it REFUND_PENDING and the
  refund is asked for again: the gateway is idempotent per order, so the money
  goes back exactly once;
* a gateway failure leaves the payment REFUND_PENDING; the pass goes on with the
  other refunds and is retried with exponential backoff, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from order_service.adapters.payment import PaymentGateway
from order_service.service_layer.unit_of_work import UnitOfWork
from service_kit.claims import ClaimLoop, ClaimsFailed, Pacing
from shared_events.envelope import utcnow

log = logging.getLogger(__name__)


class RefundsFailed(Exception):
    """Some refunds of a pass failed; they stay REFUND_PENDING for the retry."""

    def __init__(self, order_ids: list[str]) -> None:
        super().__init__(f"{len(order_ids)} refund(s) failed: {', '.join(order_ids)}")
        self.order_ids = order_ids


# Rejections are applied by the worker process: the poll is what finds their refunds.
PACING = Pacing(poll_interval=0.5)


class RefundDispatcher(ClaimLoop[str]):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        gateway: PaymentGateway,
        pacing: Pacing = PACING,
    ) -> None:
        super().__init__(pacing)
        self._uow_factory = uow_factory
        self._gateway = gateway
        self.refunded = 0

    async def dispatch_pending(self) -> int:
        """One pass over the pending refunds; returns how many were completed.
        Raises RefundsFailed, after trying every other one, if any failed."""
        try:
            return await self.work_off()
        except ClaimsFailed as failed:
            raise RefundsFailed([str(i) for i in failed.items]) from None

    async def due(self, limit: int) -> list[str]:
        async with self._uow_factory() as uow:
            return await uow.payments.refund_pending(limit)

    def failed(self, item: str, exc: Exception) -> None:
        log.warning(
            "refund of order %s failed (%s: %s); stays pending", item, type(exc).__name__, exc
        )

    async def act(self, item: str) -> int:
        async with self._uow_factory() as uow:
            payment = await uow.payments.claim_refund(item)
            if payment is None:
                return 0  # another dispatcher has it, or finished it meanwhile
            await self._gateway.refund(item, payment.reference, payment.amount)
            if not payment.mark_refunded(utcnow()):
                return 0
            await uow.commit()
        self.refunded += 1
        log.info("order %s: %d won refunded (charge %s)", item, payment.amount, payment.reference)
        return 1
