"""Notifier fakes shared by the unit and the integration tests."""

from __future__ import annotations

from datetime import datetime

from mypage_service.adapters.notifier import Message, Notifier, NotifierError, NotifierUnavailable


class FakeNotifier(Notifier):
    """Records what it delivers; fails its next `fail_next` sends, or every send
    while `down`, the way a KakaoTalk gateway that is away would."""

    def __init__(self, fail_next: int = 0) -> None:
        self.fail_next = fail_next
        self.down = False
        self.refused_orders: set[str] = set()  # a gateway that keeps refusing these
        self.delivered: list[Message] = []
        self.tries = 0
        self.closed = False

    async def send(self, message: Message) -> None:
        self.tries += 1
        if message.order_id in self.refused_orders:
            raise NotifierError("gateway refused the message: 400")
        if self.down or self.fail_next > 0:
            self.fail_next = max(self.fail_next - 1, 0)
            raise NotifierUnavailable("gateway answered 503")
        self.delivered.append(message)

    async def aclose(self) -> None:
        self.closed = True


class ManualClock:
    """A clock the test moves, so backoff is checked without waiting for it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
