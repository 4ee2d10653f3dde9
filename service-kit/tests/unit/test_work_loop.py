"""The WorkLoop's idle wait: the poll interval unless the loop says how long to wait."""

import asyncio

from service_kit.loop import WorkLoop
from testkit import eventually


class Idle(WorkLoop):
    """Never finds work; counts its passes."""

    def __init__(
        self, poll_interval: float, idle: float | None = None, settle: float = 0.0
    ) -> None:
        super().__init__(
            self.look, poll_interval, backoff_multiplier=0.1, max_backoff=0.1, settle=settle
        )
        self.idle = idle
        self.passes = 0

    async def look(self) -> int:
        self.passes += 1
        return 0

    async def on_failure(self, exc: BaseException | None, retry_in: float) -> None:
        raise AssertionError(f"no pass fails here: {exc!r}")

    async def idle_seconds(self) -> float:
        return await super().idle_seconds() if self.idle is None else self.idle


async def _passes_while_running(loop: Idle, enough: int) -> int:
    task = asyncio.create_task(loop.run())
    try:

        async def repeated() -> bool:
            return loop.passes >= enough

        await eventually(repeated, within=10, what=f"{enough} passes")
    finally:
        loop.stop()
        await asyncio.wait_for(task, timeout=10)
    return loop.passes


async def test_an_idle_wait_lasts_what_the_loop_asks_for_not_the_poll_interval():
    # An hour's poll interval: only the loop's own, short idle wait brings the next pass.
    assert await _passes_while_running(Idle(poll_interval=3600, idle=0.01), enough=3) >= 3


async def test_an_idle_wait_is_the_poll_interval_by_default():
    loop = Idle(poll_interval=3600)
    task = asyncio.create_task(loop.run())
    try:

        async def first() -> bool:
            return loop.passes >= 1

        await eventually(first, within=10, what="the first pass")
        loop.wake()  # the hour-long wait ends only by wake()

        async def second() -> bool:
            return loop.passes >= 2

        await eventually(second, within=10, what="the pass after wake()")
    finally:
        loop.stop()
        await asyncio.wait_for(task, timeout=10)
    assert loop.passes == 2


async def test_a_settling_loop_makes_one_pass_of_a_burst_of_wakes():
    loop = Idle(poll_interval=3600, settle=0.2)  # the wakes during this go with the first
    task = asyncio.create_task(loop.run())
    try:

        async def passes(n: int) -> bool:
            return loop.passes >= n

        await eventually(lambda: passes(1), within=10, what="the first pass")
        for _ in range(5):  # a burst: one wake per commit elsewhere
            loop.wake()
            await asyncio.sleep(0)
        await eventually(lambda: passes(2), within=10, what="the pass after the burst")
    finally:
        loop.stop()
        await asyncio.wait_for(task, timeout=10)
    assert loop.passes == 2
