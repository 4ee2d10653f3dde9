"""Background loops that work in passes: the chassis of a service's dispatchers and timers.

A `PassLoop` runs `run_pass()` until stop(). After each pass `pause_after(done)`
says how long to wait before the next one (None: go on at once, there may be
more); wake() cuts that wait short, so work made due in this process starts at
once. A pass that raises is retried with exponential backoff, which wake()
cannot shorten (a burst of new work must not defeat it) but stop() can.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from contextlib import suppress
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

log = logging.getLogger(__name__)


class PassLoop(ABC):
    """A BackgroundLoop (service_kit.runtime) whose work comes in passes."""

    name = "background loop"  # for the log

    def __init__(self, *, backoff_multiplier: float = 0.2, max_backoff: float = 5.0) -> None:
        self._backoff = wait_exponential(multiplier=backoff_multiplier, max=max_backoff)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.failures = 0

    @abstractmethod
    async def run_pass(self) -> int:
        """One pass over the due work; how much it did."""

    @abstractmethod
    async def pause_after(self, done: int) -> float | None:
        """Seconds to wait after a pass that did `done`; None to start the next at once."""

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wake(self) -> None:
        """Work became due in this process: end the current wait now."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Pass after pass until stop(); the pass in flight is finished before returning."""
        while not self._stopping.is_set():
            # Cleared before the pass reads what is due, so a wake() arriving during
            # the pass is never lost: it ends the wait that follows at once.
            self._wake.clear()
            done = await self._with_retry()
            pause = await self.pause_after(done)
            if pause is not None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def _with_retry(self) -> int:
        async for attempt in AsyncRetrying(
            wait=self._backoff,
            retry=retry_if_exception_type(Exception),
            before_sleep=self._on_failure,
            sleep=self._backoff_sleep,
        ):
            with attempt:
                if self._stopping.is_set():
                    return 0
                return await self.run_pass()
        return 0  # pragma: no cover

    async def _on_failure(self, state: Any) -> None:
        self.failures += 1
        exc = state.outcome.exception()
        log.warning(
            "%s: %s: %s; retrying in %.1fs",
            self.name,
            type(exc).__name__,
            exc,
            state.next_action.sleep,
        )

    async def _backoff_sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
