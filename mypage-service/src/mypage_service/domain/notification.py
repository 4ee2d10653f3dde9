"""The customer's KakaoTalk messages: one per change of the visible status.

A notification is decided in the same transaction as the status change that
causes it, and sent later by the dispatcher, so a notifier that is down never
holds up or undoes the status update, and a redelivered event or a crash can
never decide a second message for the same status (one per order and status).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from mypage_service.domain.status import Status
from shared_events import contract


class NotificationState(StrEnum):
    PENDING = "PENDING"  # decided, not sent yet (notifier down, or phone not known yet)
    SENT = "SENT"


# What the customer reads, per status reached.
MESSAGES: dict[Status, str] = {
    Status.PLACED: "주문이 접수되었습니다.",
    Status.ACCEPTED: "가게에서 주문을 수락했습니다.",
    Status.REJECTED: "가게에서 주문을 거절했습니다. 결제 금액은 환불됩니다.",
    Status.COOKING: "음식 조리를 시작했습니다.",
    Status.COOKED: "음식이 준비되었습니다. 곧 라이더가 픽업합니다.",
    Status.PICKED: "라이더가 음식을 픽업해 배달을 시작했습니다.",
    Status.DELIVERED: "배달이 완료되었습니다. 맛있게 드세요!",
    Status.CANCELLED: "주문이 취소되었습니다.",
    Status.RETURNED: "배달된 음식이 회수되었습니다.",
}
# A rejection by the acceptance window: the store never answered in time.
NOT_ACCEPTED_IN_TIME = (
    "가게가 제시간에 주문을 수락하지 않아 주문이 거절되었습니다. 결제 금액은 환불됩니다."
)
REASON_LIMIT = 200  # a free-text reason is quoted, never a wall of text


def message_for(order_id: str, status: Status, event: contract.Payload) -> str:
    if isinstance(event, contract.OrderRejected) and event.rejected_by == "timeout":
        return f"[주문 {order_id[:8]}] {NOT_ACCEPTED_IN_TIME}"
    text = f"[주문 {order_id[:8]}] {MESSAGES[status]}"
    reason = getattr(event, "reason", None)  # OrderRejected, DeliveryReturned
    if isinstance(reason, str) and reason.strip():
        text += f" (사유: {reason.strip()[:REASON_LIMIT]})"
    return text


class Notification:
    """One message to the customer about one status of one order."""

    def __init__(
        self,
        order_id: str,
        customer_id: str | None,
        status: str,
        message: str,
        created_at: datetime,
        notification_id: str | None = None,
    ) -> None:
        self.notification_id = notification_id or str(uuid.uuid4())
        self.order_id = order_id
        # None until an event that names the customer arrives; filled in then.
        self.customer_id = customer_id
        self.status = status
        self.message = message
        self.state: str = NotificationState.PENDING
        self.attempts = 0
        self.last_error: str | None = None
        self.created_at = created_at
        self.sent_at: datetime | None = None
        # Set by the dispatcher only: not before this moment (retry backoff, send lease).
        self.next_attempt_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Notification({self.order_id!r}, {self.status!r}, {self.state!r})"


class OrderContact:
    """How to reach the customer about one order. Personal data: kept apart from the
    read model, never logged (the repr hides it) and never returned by the API."""

    def __init__(self, order_id: str, phone: str) -> None:
        self.order_id = order_id
        self.phone = phone

    def __repr__(self) -> str:
        return f"OrderContact({self.order_id!r}, phone=<hidden>)"
