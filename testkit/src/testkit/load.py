"""Many orders through the whole lifecycle at once, optionally across a broker restart,
then a check that every order ended where it should, exactly once everywhere.

Against a running system (`make run` in another terminal):

    uv run python -m testkit.load --orders 300 --restart-broker

Customers and riders (twice the lanes of each) order and deliver many times; each
order follows one scenario (delivered, rejected,
cancelled before or after acceptance, returned after delivery). Every step waits
on a condition with a deadline: the ticket in the owner's inbox before the owner
decides, the delivery offered before a rider picks, and, like a customer watching
their phone, mypage showing the new status before the next step. So each status
is a change the customer saw: one timeline entry and one notification each.

`--restart-broker` stops the broker (infra/kafka/kafka.sh with KAFKA_PORT from
--kafka-port, KAFKA_HOME from --kafka-home) once a third of the orders are placed,
lets ten more customers order meanwhile, keeps it down until every order in flight
waits for an event, and starts it again. Then every order is checked on every
service (testkit.checks; `--verify-topics` also reads the topics), and the
report (.local/reports/, or --report-dir) counts what was lost or duplicated. The fault tests
(tests/faults) import the same driver and checks.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from httpx_aiohttp import AiohttpTransport

from testkit.actors import Endpoints, wait_for
from testkit.checks import check_topics, converge, published
from testkit.launcher import kafka
from testkit.reports import write_report
from testkit.world import REGION, STEP_STATUS, Plan, World

ORDERS_PER_STORE = 50

# ------------------------------------------------------------------ the driver


class StepFailed(Exception):
    pass


@dataclass
class Driver:
    """Drives plans with `concurrency` lanes; a lane is `acting` while one of its
    commands is in flight and `waiting` while it waits for an event's effect, so
    `stalled` says every order in flight needs the broker to go on."""

    world: World
    concurrency: int = 20
    step_timeout: float = 180
    # Every lane polls while it waits: on a small machine faster polling only
    # steals the CPU the services need to get there.
    poll_interval: float = 0.25
    # Watch mypage through the status page's live feed (one stream per order in
    # flight, as the web's status page does) rather than by polling it: the bench's
    # way, so that the services' CPU per lifecycle is not mostly the driver's polls.
    follow: bool = False
    lanes_in: Counter[str] = field(default_factory=Counter)  # "acting", "waiting": how many
    placed: int = 0
    commands: int = 0  # commands that got their 2xx
    _queue: list[Plan] = field(default_factory=list)
    _lanes: list[asyncio.Task[None]] = field(default_factory=list)
    transport_retries: int = 0  # requests sent again after a lost connection
    polls: int = 0  # GETs sent to see whether the next step is possible yet
    _tickets: dict[str, set[str]] = field(default_factory=dict)  # store -> new tickets seen
    _shown: dict[str, str] = field(default_factory=dict)  # order id -> status its feed shows
    _feed_failed: dict[str, str] = field(default_factory=dict)  # order id -> why its feed ended
    # order id -> woken by its feed: a status wakes only its own lane, not all of them.
    _changed: dict[str, asyncio.Condition] = field(default_factory=dict)
    # Told of every plan that ended, done or failed (the bench marks its window by them).
    on_end: Callable[[Plan], None] | None = None

    @property
    def stalled(self) -> bool:
        """Nothing is acting: every order in flight (if any) waits for an event."""
        return self.lanes_in["acting"] == 0

    async def run(self, plans: list[Plan]) -> None:
        self._queue = list(reversed(plans))
        self._lanes = []
        self.add_lanes(self.concurrency)
        while self._lanes:  # lanes added meanwhile are awaited too
            lanes, self._lanes = self._lanes, []
            await asyncio.gather(*lanes)

    def add_lanes(self, count: int) -> None:
        """More orders in flight from now on: more customers ordering at once."""

        async def lane() -> None:
            while self._queue:
                await self.drive(self._queue.pop())

        self._lanes += [asyncio.create_task(lane()) for _ in range(count)]

    async def drive(
        self, plan: Plan, steps: tuple[str, ...] | None = None, *, watch: bool = True
    ) -> None:
        """Place the order (unless it is), then take `steps` (by default its scenario's),
        each once what it acts on is visible; `watch`: wait for mypage after each.
        A failure is recorded on the plan, never raised."""
        plan.watched = plan.watched and watch
        feed: asyncio.Task[None] | None = None
        try:
            if plan.order_id is None:
                await self._place(plan)
                if watch:
                    await self._watch(plan, "PLACED")  # polled: the feed needs the order there
            if watch and self.follow:
                assert plan.order_id is not None
                self._shown[plan.order_id] = ""  # nothing on its feed yet
                changed = self._changed[plan.order_id] = asyncio.Condition()
                feed = asyncio.create_task(self._feed(plan, changed))
            for step in plan.scenario.steps if steps is None else steps:
                await self.wait_until_ready(plan, step)
                await self._command(plan, step)
                if watch:
                    await self._watch(plan, STEP_STATUS[step])
            plan.finished_at = time.monotonic()
        except (StepFailed, TimeoutError, httpx.HTTPError) as exc:
            plan.error = f"after {plan.done}: {type(exc).__name__}: {exc}"[:300]
        finally:
            if feed is not None:
                feed.cancel()
                self._changed.pop(plan.order_id or "", None)
            if self.on_end is not None:
                self.on_end(plan)

    async def _place(self, plan: Plan) -> None:
        key = f"load-{plan.index}"  # a retried POST finds the same order

        async def attempt() -> httpx.Response | None:
            try:
                r = await plan.customer.place_order(
                    plan.store, list(plan.items), region=REGION, idempotency_key=key
                )
            except httpx.TransportError:
                return None
            # 422 until the order-service's menu replica has the store's items.
            return r if r.status_code in (200, 201) else None

        r = await self._in_state(
            "acting",
            wait_for(
                attempt, within=self.step_timeout, interval=self.poll_interval, what="PlaceOrder"
            ),
        )
        plan.order_id = r.json()["order_id"]
        plan.placed_at = time.monotonic()
        self.placed += 1
        self.commands += 1

    async def wait_until_ready(self, plan: Plan, step: str) -> None:
        """Wait until the actor of `step` can see what they act on."""
        order_id = plan.order_id
        assert order_id is not None
        if step in ("accept", "reject"):
            owner = self.world.owners[plan.store]

            # An owner's look at their inbox shows every new ticket, so one look serves
            # every lane waiting on that store (the ticket is taken off when used).
            seen = self._tickets.setdefault(plan.store, set())

            async def ticket() -> bool:
                if order_id not in seen:
                    self.polls += 1
                    r = await owner.inbox(plan.store, "RECEIVED")
                    if r.status_code == 200:
                        seen.update(o["order_id"] for o in r.json()["orders"])
                if order_id not in seen:
                    return False
                seen.discard(order_id)
                return True

            await self._until(ticket, "the ticket in the owner's inbox")
        elif step == "pick":

            async def offered() -> bool:
                self.polls += 1
                r = await plan.rider.delivery(order_id)
                return r.status_code == 200 and r.json()["status"] == "WAITING"

            await self._until(offered, "the delivery offered")

    async def _command(self, plan: Plan, step: str) -> None:
        order_id = plan.order_id
        assert order_id is not None
        owner = self.world.owners[plan.store]
        act: Callable[[], Awaitable[httpx.Response]] = {
            "accept": lambda: owner.accept(order_id),
            "reject": lambda: owner.reject(order_id, "sold out"),
            "cook": lambda: owner.start_cooking(order_id),
            "finish": lambda: owner.finish_cooking(order_id),
            "pick": lambda: plan.rider.pick(order_id),
            "confirm": lambda: plan.rider.confirm(order_id),
            "return": lambda: plan.rider.return_food(order_id, "customer refused"),
            "cancel": lambda: plan.customer.cancel(order_id),
        }[step]
        for attempt in range(1, 4):
            try:
                r = await self._in_state("acting", act())
            except httpx.TransportError:
                # The reply was lost, not necessarily the command: send it again, and
                # a 409 naming the state it leads to says the first one landed.
                if attempt == 3:
                    raise
                self.transport_retries += 1
                continue
            landed = attempt > 1 and r.status_code == 409
            if r.status_code == 200 or (
                landed and r.json().get("current_state") == STEP_STATUS[step]
            ):
                break
            raise StepFailed(f"{step} -> {r.status_code} {r.text[:200]}")
        plan.done.append(step)
        self.commands += 1

    async def _watch(self, plan: Plan, status: str) -> None:
        """The customer watches mypage until it shows `status`."""
        order_id = plan.order_id
        assert order_id is not None
        if order_id in self._shown or order_id in self._feed_failed:  # its feed is open
            on_feed = self._shown_on_feed(order_id, status)
            await self._in_state("waiting", asyncio.wait_for(on_feed, self.step_timeout))
            return

        async def shown() -> bool:
            self.polls += 1
            page = await plan.customer.status_page(order_id)
            return page is not None and page["status"] == status

        # The status was just commanded: its event has a relay, the broker and a worker
        # to go through, so a look at once would only see the old one (a poll wasted).
        await self._until(shown, f"mypage to show {status}", settle=True)

    async def _feed(self, plan: Plan, changed: asyncio.Condition) -> None:
        """Follow the order's live feed, telling the lane (`changed`) every status it shows."""
        order_id = plan.order_id
        assert order_id is not None
        try:
            while True:
                try:
                    async for view in plan.customer.follow(order_id):
                        async with changed:
                            self._shown[order_id] = view["status"]
                            changed.notify_all()
                except httpx.TransportError:
                    # Reconnect, as a browser's EventSource does after its retry delay.
                    self.transport_retries += 1
                    await asyncio.sleep(self.poll_interval)
        except httpx.HTTPStatusError as exc:
            async with changed:
                self._feed_failed[order_id] = f"the live feed answered {exc.response.status_code}"
                changed.notify_all()
        finally:
            self._shown.pop(order_id, None)

    async def _shown_on_feed(self, order_id: str, status: str) -> None:
        changed = self._changed[order_id]
        async with changed:
            await changed.wait_for(
                lambda: self._shown.get(order_id) == status or order_id in self._feed_failed
            )
        if order_id in self._feed_failed:
            raise StepFailed(self._feed_failed[order_id])

    async def _until(
        self, probe: Callable[[], Awaitable[bool]], what: str, *, settle: bool = False
    ) -> None:
        """Poll `probe` every `poll_interval`; `settle`: the first look after one too."""

        async def tolerant() -> bool:
            try:
                return await probe()
            except httpx.TransportError:
                self.transport_retries += 1
                return False

        async def polled() -> None:
            if settle:
                await asyncio.sleep(self.poll_interval)
            await wait_for(
                tolerant, within=self.step_timeout, interval=self.poll_interval, what=what
            )

        await self._in_state("waiting", polled())

    async def _in_state(self, state: str, work: Awaitable[Any]) -> Any:
        """`work`, its lane counted in `state` meanwhile."""
        self.lanes_in[state] += 1
        try:
            return await work
        finally:
            self.lanes_in[state] -= 1


# ------------------------------------------------------------------ faults


@dataclass
class Outage:
    """What happened while the broker was down."""

    placed_before: int = 0
    commands_while_down: int = 0
    down_for_s: float = 0.0


async def broker_outage(
    driver: Driver,
    stop: Callable[[], None],
    start: Callable[[], None],
    *,
    after_placed: int,
    arrivals: int = 10,
    stall_for: float = 1.0,
) -> Outage:
    """Once `after_placed` orders are placed, stop the broker. Meanwhile `arrivals`
    more customers start ordering (their PlaceOrder needs no broker; every order in
    flight soon waits for an event that does). Start the broker again once nothing
    has acted for `stall_for` seconds: nothing more could happen without it."""
    outage = Outage()
    await wait_for(lambda: _true(driver.placed >= after_placed), within=600, what="orders to place")
    await asyncio.to_thread(stop)
    down_at, commands_at = time.monotonic(), driver.commands
    outage.placed_before = driver.placed
    driver.add_lanes(arrivals)
    stalled_since = None
    while stalled_since is None or time.monotonic() - stalled_since < stall_for:
        await asyncio.sleep(0.05)  # a monitor of the driver's lanes, not a wait for a result
        if not driver.stalled:
            stalled_since = None
        elif stalled_since is None:
            stalled_since = time.monotonic()
    outage.commands_while_down = driver.commands - commands_at
    await asyncio.to_thread(start)
    outage.down_for_s = round(time.monotonic() - down_at, 1)
    return outage


async def _true(value: bool) -> bool:
    return value


# ------------------------------------------------------------------ the bench


def client() -> httpx.AsyncClient:
    """httpx's API (the actors and the checks speak it) over aiohttp's connection pool
    (httpx-aiohttp): httpcore looks over every connection of a pool, one `select` each,
    on each request and each answer, so at saturation httpx's own pool cost the driver
    ~1.3 ms CPU a request against ~0.35 ms over aiohttp's, which takes a connection from
    a per-host queue. Enough connections for every order in flight (a feed holds one).
    Idle ones are dropped before uvicorn's 5 s keep-alive ends, so no request goes out
    on a connection the server is closing; not much before, or a lull closes what the
    next burst opens again."""
    limits = httpx.Limits(max_connections=400, keepalive_expiry=4)
    return httpx.AsyncClient(timeout=30, transport=AiohttpTransport(limits=limits))


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    endpoints = Endpoints(args.order, args.store, args.delivery, args.mypage, args.identity)
    async with client() as http:
        world = World(http, endpoints, accounts=2 * args.concurrency)
        await world.open_stores(max(1, -(-args.orders // ORDERS_PER_STORE)))
        plans = world.plan(args.orders)
        await world.sign_up(plans)
        driver = Driver(world, concurrency=args.concurrency)
        started = time.monotonic()
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(driver.run(plans))]
        if args.restart_broker:
            tasks.append(
                asyncio.create_task(
                    broker_outage(
                        driver,
                        lambda: kafka("down", args.kafka_port, args.kafka_home),
                        lambda: kafka("up", args.kafka_port, args.kafka_home),
                        after_placed=args.orders // 3,
                    )
                )
            )
        results = await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        verdict = await converge(world)
        if args.verify_topics:
            records = await published(world, f"127.0.0.1:{args.kafka_port}")
            check_topics(world, records, verdict)
    lifecycles = [p.finished_at - p.placed_at for p in world.plans if p.finished_at]
    failed = [f"{p.index} {p.scenario.name}: {p.error}" for p in world.plans if p.error]
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "what": "orders driven concurrently through their whole lifecycle"
        + (", broker stopped and started mid-way" if args.restart_broker else ""),
        "command": " ".join(["uv run python -m testkit.load", *sys.argv[1:]]),
        "orders": args.orders,
        "concurrency": args.concurrency,
        "scenarios": dict(Counter(p.scenario.name for p in world.plans)),
        "elapsed_s": round(elapsed, 1),
        "orders_per_s": round(len(lifecycles) / elapsed, 2),
        "commands": driver.commands,
        "transport_retries": driver.transport_retries,
        "lifecycle_median_ms": round(statistics.median(lifecycles) * 1000) if lifecycles else None,
        "lifecycle_max_ms": round(max(lifecycles) * 1000) if lifecycles else None,
        "outage": vars(results[1]) if args.restart_broker else None,
        "failed_orders": len(failed),
        "failures": failed[:20],
        **verdict.row(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--restart-broker", action="store_true")
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument(
        "--kafka-home", type=Path, help="the broker's KAFKA_HOME (default: kafka.sh's)"
    )
    parser.add_argument("--verify-topics", action="store_true", help="also read the topics")
    parser.add_argument("--order", default="http://127.0.0.1:8081")
    parser.add_argument("--store", default="http://127.0.0.1:8082")
    parser.add_argument("--delivery", default="http://127.0.0.1:8083")
    parser.add_argument("--mypage", default="http://127.0.0.1:8084")
    parser.add_argument("--identity", default="http://127.0.0.1:8085")
    parser.add_argument(
        "--report-dir", type=Path, help="where the JSON report goes (default: .local/reports/)"
    )
    args = parser.parse_args()
    report = uvloop.run(bench(args))  # the driver on libuv's loop: less of the box's CPU
    stamp = report["measured_at"][:19].replace(":", "")
    path = write_report(f"lifecycle-{stamp}", report, args.report_dir)
    print(
        f"{report['orders']} orders in {report['elapsed_s']} s ({report['orders_per_s']}/s), "
        f"failed {report['failed_orders']}, lost {report['lost']}, "
        f"duplicated {report['duplicated']}, other {report['other_problems']}  ({path})"
    )


if __name__ == "__main__":
    main()
