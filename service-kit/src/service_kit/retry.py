"""Deciding a command again when it lost the optimistic version check.

A command handler loads, decides and commits in one unit of work. When another
transaction (a rival command, or a policy the worker applied) committed the same
aggregate between our read and our write, the commit raises `ConcurrentChange`.
The handler then runs again from a fresh read, so the loser gets the domain's own
answer on the new state (a 409 naming it, say) instead of a bare "retry".
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random,
)

from service_kit.kernel import ConcurrentChange

P = ParamSpec("P")
R = TypeVar("R")

ATTEMPTS = 3


def decided_again_when_stale(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a command handler that enters its own unit of work; after `ATTEMPTS`
    lost races the last `ConcurrentChange` (a Conflict, so a 409) goes through."""
    log = logging.getLogger(handler.__module__)

    def _lost(state: RetryCallState) -> None:
        log.info(
            "%s: changed concurrently (attempt %d); deciding again on fresh state",
            handler.__name__,
            state.attempt_number,
        )

    @functools.wraps(handler)
    async def decide(*args: P.args, **kwargs: P.kwargs) -> R:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(ConcurrentChange),
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_random(0, 0.05),
            before_sleep=_lost,
            reraise=True,
        ):
            with attempt:
                return await handler(*args, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover: reraise=True

    return decide
