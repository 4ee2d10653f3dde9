"""The refund dispatcher: gives back the charge of every payment left REFUND_PENDING.

A WorkLoop of the API process (beside the outbox relay). REFUND_PENDING is
written in the transaction that rejected or cancelled the order, so the owed
refund survives any crash; this loop works that to-do list off:

* woken after the commit by the internal RefundDue event when the decision was
  taken in this process (a cancel), and polling every `poll_interval` otherwise
  (rejections are applied by the worker process, which runs no dispatcher);
* the gateway is called outside any transaction, then the payment is marked
  REFUNDED. A crash or failed commit in between leaves it REFUND_PENDING and the
  refund is asked for again: the gateway is idempotent per order, so the money
  goes back exactly once;
* a gateway failure leaves the payment REFUND_PENDING; the pass goes on with the
  other refunds and is retried with exponential backoff, never dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from order_service.adapters.payment import PaymentGateway
from order_service.domain.payment import PaymentStatus
from order_service.service_layer.unit_of_work import UnitOfWork
from service_kit.loop import WorkLoop
from shared_events.envelope import utcnow

log = logging.getLogger(__name__)


class RefundsFailed(Exception):
    """Some refunds of a pass failed; they stay REFUND_PENDING for the retry."""

    def __init__(self, order_ids: list[str]) -> None:
        super().__init__(f"{len(order_ids)} refund(s) failed: {', '.join(order_ids)}")
        self.order_ids = order_ids


class RefundDispatcher(WorkLoop):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        gateway: PaymentGateway,
        *,
        poll_interval: float = 0.5,
        batch_size: int = 50,
        backoff_multiplier: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        super().__init__(self.dispatch_pending, poll_interval, backoff_multiplier, max_backoff)
        self._uow_factory = uow_factory
        self._gateway = gateway
        self._batch_size = batch_size
        self.refunded = 0
        self.failures = 0

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        self.failures += 1
        log.warning("refund dispatcher: %s; retrying in %.1fs", exc, retry_in)

    async def dispatch_pending(self) -> int:
        """One pass over the pending refunds; returns how many were completed.
        Raises RefundsFailed, after trying every other one, if any failed."""
        async with self._uow_factory() as uow:
            order_ids = await uow.payments.refund_pending(self._batch_size)
        done, failed = 0, []
        for order_id in order_ids:
            if self._stopping.is_set():
                break
            try:
                done += await self._refund(order_id)
            except Exception as exc:
                failed.append(order_id)
                log.warning(
                    "refund of order %s failed (%s: %s); stays pending",
                    order_id,
                    type(exc).__name__,
                    exc,
                )
        if failed:
            raise RefundsFailed(failed)
        return done

    async def _refund(self, order_id: str) -> int:
        async with self._uow_factory() as uow:
            payment = await uow.payments.get(order_id)
            if payment is None or payment.status is not PaymentStatus.REFUND_PENDING:
                return 0  # another dispatcher finished it meanwhile
            reference, amount = payment.reference, payment.amount
        # No transaction is held open while the gateway is called.
        await self._gateway.refund(order_id, reference, amount)
        async with self._uow_factory() as uow:
            payment = await uow.payments.get(order_id)
            if payment is None or not payment.mark_refunded(utcnow()):
                return 0
            await uow.commit()
        self.refunded += 1
        log.info("order %s: %d won refunded (charge %s)", order_id, amount, reference)
        return 1
