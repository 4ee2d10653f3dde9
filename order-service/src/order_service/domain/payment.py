"""The payment record the Ordering context keeps for each paid order."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from shared_events.kernel import Aggregate


class PaymentStatus(StrEnum):
    CHARGED = "CHARGED"
    REFUNDED = "REFUNDED"


class Payment(Aggregate):
    """What was charged for an order and by which gateway reference, so a later
    rejection or cancellation can refund exactly that charge."""

    def __init__(self, order_id: str, reference: str, amount: int, charged_at: datetime) -> None:
        super().__init__()
        self.order_id = order_id
        self.reference = reference
        self.amount = amount
        self.status = PaymentStatus.CHARGED
        self.charged_at = charged_at
        self.refunded_at: datetime | None = None

    @property
    def refunded(self) -> bool:
        return self.status is PaymentStatus.REFUNDED

    def mark_refunded(self, at: datetime) -> bool:
        """Idempotent: refund policies run at least once; False when already refunded."""
        if self.refunded:
            return False
        self.status = PaymentStatus.REFUNDED
        self.refunded_at = at
        return True
