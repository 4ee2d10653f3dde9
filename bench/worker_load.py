"""One service's worker as a real process on a fresh broker, fed order lifecycles at a
steady rate (each lifecycle's events on the topics the worker reads, produced in
causal order, its own key, the relay's headers; what the API would have done first,
the order placed or the store registered, done in this process on the worker's
database): its CPU ms per lifecycle (from /proc, idle baseline shown apart) and, with
--batch-times, the batch transaction's p50/p99 (claim to COMMIT, from the worker's
DEBUG lines; DEBUG costs CPU, so the CPU figure is for the run without).

    TEST_KAFKA_PORT=19500 uv run python bench/worker_load.py --service store --rate 10
    (--pid-file F writes the worker's pid, e.g. for py-spy)
    --with-api also runs the service's API process, which the worker's wakes reach
    (mypage: its notification dispatcher, woken by the worker's commits), and shows
    its CPU per lifecycle beside the worker's.

A/B on one broker: `--rounds 3 --b-env CONSUMER_LINGER_MS=0` runs the worker as is (A)
and with that environment (B), interleaved, each round a fresh worker and database.
Against another commit's code: extract its `service-kit/src` and the service's `src`
(`git archive REV service-kit/src store-service/src | tar -x -C DIR`) and pass
`--b-env PYTHONPATH=DIR/service-kit/src:DIR/store-service/src` (ahead of the venv's).
Besides the worker's CPU (its main thread apart from the rest: the consumer thread,
SQLite's) it shows the broker's CPU per lifecycle over the same span.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

# Beside this script: the in-process harness's lifecycle pieces.
from command_path import ITEM, STORE, Flow, kitchen, order_stages, placed, riding, store_setup
from feed_watch import Watch

from service_kit.outbox import message_headers
from shared_events import contract
from shared_events.envelope import encode, wrap
from testkit import ROOT, TEST_KAFKA_PORT, fresh_broker, tokens

TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = ("order", "store", "delivery", "mypage")
WEB_PORTS = {"order": 6081, "store": 6082, "delivery": 6083, "mypage": 6084}


def lifecycle(flow: Flow, revision: int) -> list[contract.Payload]:
    """Every event of a delivered order, in causal order, with the menu change its
    stock move publishes: each worker reads those on its topics (and skips the types
    it has no policy for, as in the system)."""
    return [
        placed(flow),
        contract.OrderAccepted(**kitchen(flow)),
        contract.CookStarted(**kitchen(flow)),
        contract.CookFinished(**kitchen(flow)),
        contract.FoodPicked(**riding(flow)),
        contract.DeliveryConfirmed(**riding(flow)),
        contract.MenuItemChanged(
            store_id=STORE,
            menu_item_id=ITEM,
            name="Bibimbap",
            price=9000,
            stock=10**9 - revision,
            available=True,
            revision=revision,
        ),
    ]


class Api:
    """What the service's API does before its worker sees a lifecycle, in this process
    on the worker's database: the store registered (store), each order placed (order)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.container: Any = importlib.import_module(f"{service}_service.bootstrap").bootstrap()
        self.topics = set(self.container.bus.subscribed_topics())

    async def setup(self) -> None:
        if self.service == "store":
            await store_setup(self.container.bus)
        elif self.service == "order":  # the menu replica the order is priced from
            item = lifecycle(Flow(), 1)[-1]
            await self.container.bus.handle_event(wrap(item, producer="bench"), item)

    async def before(self, flow: Flow) -> None:
        if self.service == "order":
            place = order_stages()[0][1]
            flow.order_id = (await self.container.bus.handle(place(flow))).order_id

    async def close(self) -> None:
        await self.container.platform.dispose()


def cpu_seconds(pid: int, task: int | None = None) -> float:
    stat = Path(f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def broker_pid(port: int) -> int:
    return int((ROOT / ".local" / f"kafka-test-{port}" / "kafka.pid").read_text())


async def ready(port: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("the worker never became ready")


async def drained(port: int, within: float = 120) -> None:
    """Until the group has committed every partition to its end."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            lags = [
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("fooddelivery_consumer_lag{")
            ]
            if lags and not any(lags):
                return
            await asyncio.sleep(0.2)
    raise TimeoutError("the worker never caught up")


async def feed(
    bootstrap: str, api: Api, rate: float, seconds: float, watch: Watch | None = None
) -> tuple[int, int]:
    """Lifecycles started at `rate` for `seconds`: how many, and their messages. With
    `watch` (mypage), each step waits for the customer's feed to show the one before."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    sent = messages = 0
    try:

        async def one(revision: int) -> None:
            nonlocal messages
            flow = Flow()
            await api.before(flow)
            events = [e for e in lifecycle(flow, revision) if e.topic in api.topics]
            # One timeline entry for each event the worker applies (not the menu's).
            shown = [e for e in events if api.container.bus.handles(e)]
            steps = {id(e): asyncio.Event() for e in shown}
            following = watch and asyncio.create_task(watch.follow(flow.order_id, steps))
            for event in events:
                messages += 1
                envelope = wrap(event, producer="bench")
                await producer.send_and_wait(
                    event.topic,
                    encode(envelope),
                    key=event.aggregate_id.encode(),
                    headers=message_headers(event.event_type, event.event_version),
                )
                if watch is None or id(event) not in steps:
                    await asyncio.sleep(0.02)  # the next step of the lifecycle, a little later
                else:
                    await watch.shown(steps[id(event)])
            if following:
                following.cancel()

        tasks = []
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            tasks.append(asyncio.create_task(one(sent + 2)))
            sent += 1
            await asyncio.sleep(max(0.0, began + sent / rate - time.monotonic()))
        await asyncio.gather(*tasks)
    finally:
        await producer.stop()
    return sent, messages


def start_worker(
    args: argparse.Namespace, bootstrap: str, data: str, extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    level = "DEBUG" if args.batch_times else "INFO"
    return start_role(args, "worker", level, bootstrap, data, extra, args.pid_file)


def start_api(
    args: argparse.Namespace, bootstrap: str, data: str, extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    """The service's API on the port the worker's wakes go to."""
    return start_role(args, "api", "WARNING", bootstrap, data, extra, None)


def serve_api(service: str) -> None:
    """The API process: the service's app as its entrypoint serves it, verifying the
    tokens of this script's testkit issuer (its key set in BENCH_JWKS)."""
    from service_kit.auth import ResourceServer
    from service_kit.http import serve

    verifier = ResourceServer.with_keys(tokens.SETTINGS, json.loads(os.environ["BENCH_JWKS"]))
    bootstrap = importlib.import_module(f"{service}_service.bootstrap").bootstrap
    create_app = importlib.import_module(f"{service}_service.entrypoints.api").create_app
    serve(bootstrap(), lambda c: create_app(c, resource_server=verifier))


def start_role(
    args: argparse.Namespace,
    role: str,
    level: str,
    bootstrap: str,
    data: str,
    extra: dict[str, str],
    pid_file: str | None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **extra,
        "FOODDELIVERY_DATA_DIR": data,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WORKER_WEB_PORT": str(args.web_port),
        # The worker's wakes go there: to the API under --with-api, else nowhere.
        "HTTP_PORT": str(args.web_port + 1),
        "LOG_LEVEL": level,
        "OTEL_SDK_DISABLED": "true",
    }
    if role == "api":
        env["BENCH_JWKS"] = json.dumps(tokens.jwks())
        argv = [sys.executable, __file__, "--serve-api", args.service]
    else:
        argv = [sys.executable, "-m", f"{args.service}_service.entrypoints.{role}"]
    return start_logged(argv, env, Path(data) / f"{role}.log", pid_file)


def start_logged(
    argv: list[str], env: dict[str, str], log: Path, pid_file: str | None
) -> subprocess.Popen[bytes]:
    """A process under measure, its output in `log`, its pid in `pid_file` (py-spy)."""
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    if pid_file:
        Path(pid_file).write_text(str(process.pid))
    return process


async def measure(
    args: argparse.Namespace, bootstrap: str, pid: int, label: str, api_pid: int | None = None
) -> None:
    web = args.web_port
    await ready(web)
    if api_pid is not None:
        await ready(web + 1)
    idle_from, idle_cpu = time.monotonic(), cpu_seconds(pid)
    api_from = cpu_seconds(api_pid) if api_pid else 0.0
    await asyncio.sleep(args.idle)
    idle = (cpu_seconds(pid) - idle_cpu) / (time.monotonic() - idle_from)
    api_idle = (cpu_seconds(api_pid) - api_from) / (time.monotonic() - idle_from) if api_pid else 0
    api = Api(args.service)
    await api.setup()
    kafka = broker_pid(args.kafka_port)
    api_cpu = cpu_seconds(api_pid) if api_pid else 0.0
    began, cpu, main, broker = (
        time.monotonic(),
        cpu_seconds(pid),
        cpu_seconds(pid, pid),
        cpu_seconds(kafka),
    )
    watch = Watch(web + 1) if args.watch else None
    n, sent = await feed(bootstrap, api, args.rate, args.seconds, watch)
    if watch is not None:
        await watch.aclose()
        print(f"{label}watch: {watch.polls / n:.1f} polls/lifecycle, {watch.missed} steps missed")
    await drained(web)
    await api.close()
    used, wall = cpu_seconds(pid) - cpu, time.monotonic() - began
    on_main, on_broker = cpu_seconds(pid, pid) - main, cpu_seconds(kafka) - broker
    print(
        f"{label}{args.service}: {n} lifecycles ({sent / n:.0f} messages each) at "
        f"{args.rate}/s: worker {used * 1000 / n:.2f} CPU ms/lifecycle "
        f"({(used - idle * wall) * 1000 / n:.2f} above its idle {idle * 100:.2f}% of a core; "
        f"main thread {on_main * 1000 / n:.2f}, other threads {(used - on_main) * 1000 / n:.2f}); "
        f"broker {on_broker * 1000 / n:.2f}",
        flush=True,
    )
    if api_pid is not None:
        await asyncio.sleep(2)  # the API's last wakes and passes
        api_used = cpu_seconds(api_pid) - api_cpu
        wall = time.monotonic() - began
        print(
            f"{label}{args.service} API: {api_used * 1000 / n:.2f} CPU ms/lifecycle "
            f"({(api_used - api_idle * wall) * 1000 / n:.2f} above its idle "
            f"{api_idle * 100:.2f}% of a core)",
            flush=True,
        )


def batch_times(log: Path) -> None:
    times = [
        float(record["message"].split(" in ")[1].split(" ms")[0])
        for record in map(json.loads, (x for x in log.read_text().splitlines() if x[:1] == "{"))
        if str(record.get("message", "")).startswith("batch of ")
    ]
    if len(times) > 2:
        qs = statistics.quantiles(times, n=100)
        print(f"{len(times)} batches: claim to COMMIT p50 {qs[49]:.2f} ms p99 {qs[98]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", choices=SERVICES, default="mypage")
    parser.add_argument("--rate", type=float, default=10.0, help="lifecycles per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle baseline")
    parser.add_argument("--kafka-port", type=int, default=TEST_KAFKA_PORT)
    parser.add_argument("--web-port", type=int, help="the worker's (its usual + 6200)")
    parser.add_argument("--batch-times", action="store_true")
    parser.add_argument("--pid-file")
    parser.add_argument("--with-api", action="store_true", help="the API process too")
    parser.add_argument("--watch", action="store_true", help="mypage: follow each order's feed")
    parser.add_argument("--serve-api", help=argparse.SUPPRESS)  # the API process
    parser.add_argument("--rounds", type=int, default=0, help="A/B rounds (with --b-env)")
    parser.add_argument("--b-env", action="append", default=[], help="KEY=VALUE for B")
    args = parser.parse_args()
    if args.serve_api:
        serve_api(args.serve_api)
        return
    args.web_port = args.web_port or WEB_PORTS[args.service] + 6200
    os.environ["HTTP_PORT"] = str(args.web_port + 1)
    for label, extra, bootstrap, data in ab_rounds(args):  # the API's steps here, too
        worker = start_worker(args, bootstrap, data, extra)
        api = start_api(args, bootstrap, data, extra) if args.with_api else None
        try:
            asyncio.run(measure(args, bootstrap, worker.pid, label, api and api.pid))
        finally:
            for process in (worker, api):
                if process is not None:
                    process.terminate()
                    process.wait(30)
        if args.batch_times:
            batch_times(Path(data) / "worker.log")


def ab_rounds(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, str], str, str]]:
    """On a fresh broker, one plain run or `--rounds` of A (as is) and B (with
    `--b-env`) interleaved, each on a fresh data directory (FOODDELIVERY_DATA_DIR, for
    this process's own steps too): (label, B's environment, bootstrap, directory)."""
    b_env = dict(item.split("=", 1) for item in args.b_env)
    runs = [("", {})] if not args.rounds else [("A ", {}), ("B ", b_env)] * args.rounds
    broker = fresh_broker(args.kafka_port)
    started = next(broker)
    try:
        for label, extra in runs:
            with tempfile.TemporaryDirectory() as data:
                os.environ["FOODDELIVERY_DATA_DIR"] = data
                yield label, extra, started.bootstrap, data
    finally:
        next(broker, None)


if __name__ == "__main__":
    main()
