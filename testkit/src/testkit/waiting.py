"""Waiting on a condition with a deadline, never a fixed sleep: the one polling loop
of the tests and the harness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float = 30,
    interval: float = 0.1,
    what: str = "condition",
    error: type[Exception] = AssertionError,
) -> T:
    """Poll until `probe` returns something truthy; at the deadline raise `error` naming
    `what` (a test fails with an AssertionError; the harness counts a TimeoutError)."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise error(f"timed out after {within}s waiting for {what}; last: {last!r}")
