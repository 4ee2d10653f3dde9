"""The notifier port: how a decided message reaches the customer (KakaoTalk).

Two adapters: `LogNotifier` (the default: the notification log is the message;
it writes a log line) and `KakaoHttpNotifier` (POSTs to a KakaoTalk message
gateway). Neither ever logs the phone number or the API token.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, dataclass, field

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    notification_id: str  # the provider's dedup key: a resend is recognised as one
    order_id: str
    status: str
    text: str
    phone: str = field(repr=False)  # personal data: never in a repr, a log or an error


class NotifierError(Exception):
    """The message was not delivered; the dispatcher keeps it and retries later.
    Its text is stored as `last_error`, so it never carries the phone number."""


class Notifier(ABC):
    @abstractmethod
    async def send(self, message: Message) -> None:
        """Deliver one message or raise NotifierError."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections; called when the dispatcher stops."""


class LogNotifier(Notifier):
    """The default: the notification log is the record; one log line per message."""

    async def send(self, message: Message) -> None:
        log.info(
            "notification %s to the customer of order %s (%s): %s",
            message.notification_id,
            message.order_id,
            message.status,
            message.text,
        )


class NotifierUnavailable(NotifierError):
    """Worth another try right away: a timeout, a lost connection, a 5xx or a 429."""


@dataclass(eq=False, repr=False)
class KakaoHttpNotifier(Notifier):
    """POST {"to", "text", "dedup_key"} to the message gateway, with a timeout and a
    few quick retries; a refusal (4xx) is not retried here (the dispatcher's own
    backoff will try again later, so nothing is lost)."""

    url: str
    _: KW_ONLY
    token: str | None = None
    timeout: float = 5.0
    attempts: int = 3
    wait_initial: float = 0.2
    wait_max: float = 2.0
    transport: httpx.AsyncBaseTransport | None = None  # for tests
    _client: httpx.AsyncClient | None = field(default=None, init=False)  # made on first use

    def __repr__(self) -> str:  # the token stays out of any log of this object
        return f"KakaoHttpNotifier({self.url!r})"

    async def send(self, message: Message) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.wait_initial, max=self.wait_max),
            retry=retry_if_exception_type(NotifierUnavailable),
            reraise=True,
        )
        await retrying(self._post, message)

    async def _post(self, message: Message) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"to": message.phone, "text": message.text, "dedup_key": message.notification_id}
        try:
            response = await self._http().post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise NotifierUnavailable(
                f"timed out after {self.timeout}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise NotifierUnavailable(f"gateway unreachable ({type(exc).__name__})") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise NotifierUnavailable(f"gateway answered {response.status_code}")
        if response.status_code >= 300:
            raise NotifierError(f"gateway refused the message: {response.status_code}")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self.transport)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def notifier_from_env(env: dict[str, str] | None = None) -> Notifier:
    """KAKAO_NOTIFY_URL picks the HTTP gateway (KAKAO_API_TOKEN authenticates it,
    KAKAO_TIMEOUT_SECONDS bounds each call); without it, the log notifier."""
    env = dict(os.environ) if env is None else env
    url = env.get("KAKAO_NOTIFY_URL", "").strip()
    if not url:
        return LogNotifier()
    return KakaoHttpNotifier(
        url,
        token=env.get("KAKAO_API_TOKEN") or None,
        timeout=float(env.get("KAKAO_TIMEOUT_SECONDS", "5")),
    )
