"""The payment record the Ordering context keeps for each paid order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from service_kit.kernel import Aggregate, Conflict


class PaymentStatus(StrEnum):
    """CHARGED -> REFUND_PENDING -> REFUNDED. REFUND_PENDING is the durable to-do of
    the refund dispatcher: it is written with the rejection or cancellation, so a
    refund owed is never lost whatever fails afterwards."""

    CHARGED = "CHARGED"
    REFUND_PENDING = "REFUND_PENDING"
    REFUNDED = "REFUNDED"


class RefundNotRequested(Conflict):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"payment of order {order_id} has no refund pending",
            current_state=PaymentStatus.CHARGED.value,
        )


@dataclass(eq=False)
class Payment(Aggregate):
    """What was charged for an order and by which gateway reference, so a later
    rejection or cancellation can refund exactly that charge."""

    order_id: str
    reference: str
    amount: int
    charged_at: datetime
    status: PaymentStatus = PaymentStatus.CHARGED
    refund_requested_at: datetime | None = None
    refunded_at: datetime | None = None

    @property
    def refunded(self) -> bool:
        return self.status is PaymentStatus.REFUNDED

    def request_refund(self, at: datetime) -> bool:
        """The order was rejected or cancelled. False when a refund is already on
        its way or done: a cancel crossing a rejection refunds once."""
        if self.status is not PaymentStatus.CHARGED:
            return False
        self.status = PaymentStatus.REFUND_PENDING
        self.refund_requested_at = at
        return True

    def mark_refunded(self, at: datetime) -> bool:
        """The gateway gave the money back. False when already marked (a dispatcher
        that retried after a lost commit); a charge nobody asked to refund is refused."""
        if self.status is PaymentStatus.REFUNDED:
            return False
        if self.status is not PaymentStatus.REFUND_PENDING:
            raise RefundNotRequested(self.order_id)
        self.status = PaymentStatus.REFUNDED
        self.refunded_at = at
        return True
