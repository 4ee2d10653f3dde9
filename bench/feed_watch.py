"""The customer's watch of mypage, as the load driver (testkit.load) keeps it: the
status page polled until the order shows, then its live feed followed, each step of
the lifecycle taken once the feed shows the one before. For worker_load's --watch."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
from command_path import CUSTOMER  # beside this script
from httpx_sse import aconnect_sse

from testkit import tokens

POLL_S = 0.25  # the driver's poll interval
STEP_S = 10.0  # a step the feed never shows is given up on after this


class Watch:
    def __init__(self, port: int) -> None:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        self._http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers=tokens.customer(CUSTOMER),
            limits=limits,
            timeout=30,
        )
        self.polls = 0
        self.missed = 0  # steps the feed did not show within STEP_S

    async def aclose(self) -> None:
        await self._http.aclose()

    async def follow(self, order_id: str, steps: dict[int, asyncio.Event]) -> None:
        """Poll until the order shows, then set the n-th of `steps` (in order) once the
        feed has shown n timeline entries."""
        ordered = list(steps.values())
        while True:
            self.polls += 1
            if (await self._http.get(f"/mypage/orders/{order_id}")).status_code == 200:
                break
            await asyncio.sleep(POLL_S)
        async with AsyncExitStack() as stack:
            feed = await stack.enter_async_context(
                aconnect_sse(self._http, "GET", f"/mypage/orders/{order_id}/stream")
            )
            async for event in feed.aiter_sse():
                view: dict[str, Any] = json.loads(event.data)
                shown = len(view["timeline"])
                for step in ordered[:shown]:
                    step.set()
                if shown >= len(ordered):
                    return

    async def shown(self, step: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(step.wait(), STEP_S)
        except TimeoutError:
            self.missed += 1
