"""The one shape of the background loops an API process runs beside its requests
(the outbox relay, order-service's refund dispatcher, mypage's notification
dispatcher): passes over work that waits in a table, until stop().

* a pass that did something is followed at once by the next one;
* an idle pass waits for wake() or `idle_seconds()` (the poll interval, unless the
  loop knows better: a timer waits until its next deadline), whichever comes first;
  a loop woken once per commit elsewhere may `settle` a moment after a wake, so the
  wakes of a burst bring one pass, not one look each;
* a failing pass is retried with exponential backoff that wake() does not cut short
  (a burst of new work must not defeat it) but stop() does. Nothing is dropped: the
  work stays in its table until a pass finishes it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import suppress

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential


class WorkLoop(ABC):
    """A BackgroundLoop: `run()` until `stop()`, finishing the pass in flight.
    `work` is one pass; it returns how much it did (0 or False: nothing was due)."""

    def __init__(
        self,
        work: Callable[[], Awaitable[int]],
        poll_interval: float,
        backoff_multiplier: float,
        max_backoff: float,
        settle: float = 0.0,
    ) -> None:
        self._work = work
        self._poll_interval = poll_interval
        self._settle = settle
        self._backoff = wait_exponential(multiplier=backoff_multiplier, max=max_backoff)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    @abstractmethod
    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        """A pass raised `exc` and runs again in `retry_in` seconds: say so."""

    async def idle_seconds(self) -> float:
        """How long an idle pass waits for wake(): the poll interval by default."""
        return self._poll_interval

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Let go of what the loop holds, once it has stopped."""

    def wake(self) -> None:
        """Work became due in this process: start now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                # Cleared before the pass reads its work, so a wake() arriving during
                # the pass is never lost: it starts the next pass at once.
                self._wake.clear()
                if not await self._work_with_retry():
                    await self._idle()
        finally:
            await self.close()

    async def _work_with_retry(self) -> int:
        async for attempt in AsyncRetrying(
            wait=self._backoff,
            retry=retry_if_exception_type(Exception),
            before_sleep=self._failed,
            sleep=self._pause,
        ):
            with attempt:
                if self._stopping.is_set():
                    return 0
                return await self._work()
        return 0  # pragma: no cover

    async def _failed(self, state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        await self.on_failure(state.outcome.exception(), state.next_action.sleep)

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _idle(self) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=await self.idle_seconds())
            if self._settle:  # woken: the wakes that follow go with this one (stop() cuts it)
                await self._pause(self._settle)
