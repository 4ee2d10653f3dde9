"""KakaoHttpNotifier against a real HTTP server on 127.0.0.1 (aiohttp, in the test)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from mypage_service.adapters.notifier import (
    KakaoHttpNotifier,
    LogNotifier,
    Message,
    NotifierError,
    NotifierUnavailable,
    notifier_from_env,
)

PHONE = "010-1234-5678"
TOKEN = "kakao-secret-token"
MESSAGE = Message(
    "5b0f8f6e-0000-4000-8000-000000000001", "o-1", "PLACED", "주문이 접수되었습니다.", PHONE
)


@dataclass
class Gateway:
    """A stand-in KakaoTalk gateway: answers from a script, remembers every request."""

    url: str = ""
    answers: list[int] = field(default_factory=list)  # status per request; then 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"json": await request.json(), "headers": dict(request.headers)})
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.answers.pop(0) if self.answers else 200
        return web.json_response({"ok": status == 200}, status=status)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/v1/messages", gw.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gw.url = f"http://127.0.0.1:{port}/v1/messages"
    yield gw
    await runner.cleanup()


def notifier(url: str, **options: Any) -> KakaoHttpNotifier:
    defaults: dict[str, Any] = {"token": TOKEN, "timeout": 1.0, "wait_initial": 0.01}
    return KakaoHttpNotifier(url, **{**defaults, **options})


async def test_the_message_is_posted_with_its_dedup_key_and_token(gateway):
    kakao = notifier(gateway.url)
    try:
        await kakao.send(MESSAGE)
    finally:
        await kakao.aclose()

    [request] = gateway.requests
    assert request["json"] == {
        "to": PHONE,
        "text": "주문이 접수되었습니다.",
        "dedup_key": MESSAGE.notification_id,
    }
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"


async def test_without_a_token_no_authorization_is_sent(gateway):
    kakao = notifier(gateway.url, token=None)
    await kakao.send(MESSAGE)
    await kakao.aclose()

    assert "Authorization" not in gateway.requests[0]["headers"]


async def test_a_gateway_hiccup_is_retried_with_the_same_dedup_key(gateway):
    gateway.answers = [503, 429]
    kakao = notifier(gateway.url, attempts=3)

    await kakao.send(MESSAGE)
    await kakao.aclose()

    assert len(gateway.requests) == 3
    assert {r["json"]["dedup_key"] for r in gateway.requests} == {MESSAGE.notification_id}


async def test_a_gateway_that_stays_down_fails_after_its_attempts(gateway):
    gateway.answers = [503] * 5
    kakao = notifier(gateway.url, attempts=3)

    with pytest.raises(NotifierUnavailable, match="gateway answered 503"):
        await kakao.send(MESSAGE)
    await kakao.aclose()

    assert len(gateway.requests) == 3


async def test_a_refusal_is_not_retried_here(gateway):
    gateway.answers = [400]
    kakao = notifier(gateway.url, attempts=3)

    with pytest.raises(NotifierError, match="refused the message: 400") as refused:
        await kakao.send(MESSAGE)
    await kakao.aclose()

    assert not isinstance(refused.value, NotifierUnavailable)
    assert len(gateway.requests) == 1


async def test_a_slow_gateway_times_out_and_is_retried(gateway):
    gateway.delay = 0.5
    kakao = notifier(gateway.url, timeout=0.1, attempts=2)

    with pytest.raises(NotifierUnavailable, match=r"timed out after 0\.1s"):
        await asyncio.wait_for(kakao.send(MESSAGE), timeout=5)
    await kakao.aclose()

    assert len(gateway.requests) == 2


async def test_an_unreachable_gateway_is_reported_without_personal_data(caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kakao = notifier(f"http://127.0.0.1:{port}/v1/messages", attempts=2)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(NotifierUnavailable, match="unreachable") as failure:
        await kakao.send(MESSAGE)
    await kakao.aclose()

    said = str(failure.value) + caplog.text + repr(kakao) + repr(MESSAGE)
    assert PHONE not in said
    assert TOKEN not in said


async def test_nothing_logged_carries_the_phone_or_the_token(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    kakao = notifier(gateway.url)
    await kakao.send(MESSAGE)
    await kakao.aclose()
    await LogNotifier().send(MESSAGE)

    assert MESSAGE.notification_id in caplog.text  # the log notifier's line
    assert PHONE not in caplog.text
    assert TOKEN not in caplog.text


def test_the_http_notifier_is_picked_when_its_url_is_set():
    assert isinstance(notifier_from_env({}), LogNotifier)
    assert isinstance(notifier_from_env({"KAKAO_NOTIFY_URL": "  "}), LogNotifier)
    picked = notifier_from_env(
        {"KAKAO_NOTIFY_URL": "http://127.0.0.1:1/x", "KAKAO_API_TOKEN": TOKEN}
    )
    assert isinstance(picked, KakaoHttpNotifier)
    assert TOKEN not in repr(picked)
