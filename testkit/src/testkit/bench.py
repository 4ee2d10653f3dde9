"""`make bench`: the system's throughput and latency beside the limits of the same box,
measured in one run on one broker, so the ratios survive a noisy, shared machine.

    uv run python -m testkit.bench                # full  (BENCH=full, a few minutes)
    uv run python -m testkit.bench --mode quick   # quick (BENCH=quick, ~2 minutes, CI)
    uv run python -m testkit.bench --mode long    # 2,000 lifecycles: throughput holds, memory flat

In order: a fresh broker; the raw transport (aiokafka batched produce, one
`send_and_wait` at a time, consume, produce->consume latency); a bare FastAPI app under
wrk; then the whole system (testkit.launcher's System, as `make run` starts it): the
event hop at light load, lifecycles/s at saturation (after a warm-up, reported apart)
with CPU-seconds per lifecycle per process and memory, and `GET /mypage/orders/{id}`,
`GET /orders/{id}` under wrk.
The driver's own CPU is reported on its own line. Writes `.local/reports/bench-*.json`
and prints the table (figure, limit, ratio, machine). Needs `wrk` (Debian: apt-get
install wrk); `make bench` installs it when apt-get is at hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tqdm import tqdm

from testkit import E2E_PORT_OFFSET, ROOT, TEST_KAFKA_PORT, fresh_broker
from testkit.hop_stages import Hop, hop_stages
from testkit.launcher import System
from testkit.load import Driver, client
from testkit.reports import write_report
from testkit.world import REGION, World


@dataclass(frozen=True)
class Mode:
    messages: int  # raw produce/consume
    one_by_one: int  # raw send_and_wait
    pings: int  # raw produce->consume latency samples
    wrk_seconds: int
    hops: int  # orders for the event hop, at `hop_rate` per second
    hop_rate: float
    lifecycles: int  # at saturation
    concurrency: int
    warm_up: int  # lifecycles at saturation before anything is measured


MODES = {
    "quick": Mode(20_000, 500, 200, 5, 30, 10.0, 60, 40, 30),
    "full": Mode(100_000, 2_000, 1_000, 15, 200, 10.0, 300, 40, 600),
    "long": Mode(100_000, 2_000, 1_000, 15, 200, 10.0, 2_000, 40, 600),
}
PAYLOAD = b"x" * 600  # about one encoded envelope
BARE_PORT_OFFSET = 7000  # the bare app beside the system's ports
SINK_PORT_OFFSET = 7001  # the trace sink beside it
# On PostgreSQL each process's pool holds what the saturation stage has in flight (40
# lanes), as a deployment sizes its pools for its load (the default is 10 + 10).
POSTGRES_POOLS = {"DB_POOL_SIZE": "20", "DB_POOL_OVERFLOW": "10"}
SHARED = ("kafka", "postgresql")  # servers beside the services, not counted as theirs
STAGES = ("broker", "transport", "bare app", "system start", "hop", "saturation", "GETs")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


# ------------------------------------------------------------------ the machine


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_mb": int(mem) // 1024,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_start": loadavg(),
    }


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU of a process (threads included) and of its children, from /proc: the ones
    it reaped (cutime, cstime) and the live ones. PostgreSQL's server is a process per
    connection, forked by its postmaster; the services and the broker have none."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in stat[11:15])  # utime, stime, cutime, cstime
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else ():
        try:
            ticks += round(cpu_seconds(int(child)) * TICK)
        except OSError:  # it exited meanwhile: once reaped, its time is in our cutime
            continue
    return ticks / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def broker_pid(home: Path) -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(home).encode() in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    return None


# ------------------------------------------------------------------ the transport


async def transport(bootstrap: str, mode: Mode) -> dict[str, Any]:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    # The relay's settings: idempotent, acks=all.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        # The new topic's metadata first, outside the timing (and without aiokafka's
        # warning that the first send found no such topic yet).
        await producer.partitions_for(topic)
        started = time.perf_counter()
        futures = [
            await producer.send(topic, PAYLOAD, key=str(i % 512).encode())
            for i in range(mode.messages)
        ]
        await asyncio.gather(*futures)
        batched = mode.messages / (time.perf_counter() - started)

        started = time.perf_counter()
        for i in range(mode.one_by_one):
            await producer.send_and_wait(topic, PAYLOAD, key=str(i).encode())
        one_by_one = mode.one_by_one / (time.perf_counter() - started)

        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            total, seen = mode.messages + mode.one_by_one, 0
            started = time.perf_counter()
            while seen < total:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                seen += sum(len(b) for b in batches.values())
            consume = total / (time.perf_counter() - started)

            # produce -> consume: one message in flight at a time, on one partition.
            latencies = []
            for i in range(mode.pings):
                sent = time.perf_counter()
                await producer.send_and_wait(topic, PAYLOAD, key=b"ping", partition=0)
                got = False
                while not got:
                    batches = await consumer.getmany(timeout_ms=1000)
                    got = any(batches.values())
                latencies.append((time.perf_counter() - sent) * 1000)
                del i
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
    return {
        "batched_produce_msgs_per_s": round(batched),
        "one_at_a_time_produce_msgs_per_s": round(one_by_one),
        "consume_msgs_per_s": round(consume),
        "produce_consume_p50_ms": pct(latencies, 0.5),
        "produce_consume_p99_ms": pct(latencies, 0.99),
    }


# ------------------------------------------------------------------ HTTP under wrk


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is required: apt-get install -y wrk (make bench does it)")
    return found


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """`wrk -t2 -c50 --latency`: requests/s, p50/p99 and the errors it counted."""
    cmd = [require_wrk(), "-t2", "-c50", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def latency(q: str) -> float | None:
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return round(float(m.group(1)) * _UNIT_MS[m.group(2)], 2) if m else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*timeout (\d+)", out)
    return {
        "req_per_s": round(float(rps.group(1)), 1) if rps else 0.0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "timeouts": int(errors.group(1)) if errors else 0,
    }


def bare_app(port: int, seconds: int) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "testkit.bare_app", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/bare/orders/o-1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the bare app never answered")
            time.sleep(0.1)
        return wrk(url, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# ------------------------------------------------------------------ the system


async def hops(world: World, mode: Mode, system: System) -> dict[str, Any]:
    """POST /orders answered -> GET /mypage/orders/{id} shows it, orders placed at
    `hop_rate` per second, each watched every 5 ms by its customer; and where each
    hop's time went (testkit.hop_stages)."""
    plans = world.plan(mode.hops)
    # Accounts first (password hashing is slow by design): the hop is an order's.
    await world.sign_up(plans)

    async def one(plan: Any) -> Hop:
        r = await plan.customer.place_order(plan.store, list(plan.items), region=REGION)
        r.raise_for_status()
        answered, wall = time.perf_counter(), time.time()
        order_id = r.json()["order_id"]
        while await plan.customer.status_page(order_id) is None:
            if time.perf_counter() - answered > 60:
                raise TimeoutError(f"order {order_id} never reached mypage")
            await asyncio.sleep(0.005)
        return Hop(order_id, wall, wall + time.perf_counter() - answered)

    # The first order waits until the order-service's menu replica has the store, and
    # is not timed: watched until mypage shows it, it also pays what a process pays
    # once (mypage's first token: a key fetch with a new httpx client), no hop's cost.
    async def first() -> None:
        deadline = time.monotonic() + 120
        while True:
            plan = plans[0]
            r = await plan.customer.place_order(plan.store, list(plan.items), region=REGION)
            if r.status_code == 201:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"menu never reached the order-service: {r.text}")
            await asyncio.sleep(0.1)
        order_id = r.json()["order_id"]
        while await plan.customer.status_page(order_id) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"order {order_id} never reached mypage")
            await asyncio.sleep(0.1)

    await first()
    tasks = []
    for plan in plans[1:]:
        tasks.append(asyncio.create_task(one(plan)))
        await asyncio.sleep(1 / mode.hop_rate)
    done = await asyncio.gather(*tasks)
    samples = [(hop.visible - hop.answered) * 1000 for hop in done]
    stages = await hop_stages(
        done,
        system.database_url("order-service"),
        system.database_url("mypage-service"),
        system.bootstrap,
    )
    return {
        "orders": len(samples),
        "rate_per_s": mode.hop_rate,
        "p50_ms": pct(samples, 0.5),
        "p99_ms": pct(samples, 0.99),
        **stages,
    }


def process_table(system: System) -> dict[str, int]:
    return {name: proc.pid for name, proc in system.processes.items()}


@dataclass
class Mark:
    """The counters at one moment of the saturation stage."""

    at: float
    cpu: dict[str, float]
    driver_cpu: float
    polls: int
    rss: dict[str, float]

    @classmethod
    def now(cls, pids: dict[str, int], driver: Driver) -> Mark:
        return cls(
            time.monotonic(),
            {n: cpu_seconds(p) for n, p in pids.items()},
            own_cpu(),
            driver.polls,
            {n: rss_mb(p) for n, p in pids.items()},
        )


def window(
    start: Mark, end: Mark, lifecycles: int, finished: list[float], concurrency: int
) -> dict[str, Any]:
    """Throughput and CPU per lifecycle between two marks, `finished` the lifecycles'
    end times within them."""
    n = max(lifecycles, 1)
    elapsed = end.at - start.at
    cpu = {name: round(end.cpu[name] - start.cpu[name], 2) for name in start.cpu}
    services_cpu = sum(v for k, v in cpu.items() if k not in SHARED)
    driver_cpu = end.driver_cpu - start.driver_cpu
    half = len(finished) // 2
    halves = []
    if half >= 2:
        first_span = finished[half - 1] - start.at
        second_span = end.at - finished[half - 1]
        halves = [round(half / first_span, 2), round((len(finished) - half) / second_span, 2)]
    return {
        "lifecycles": lifecycles,
        "concurrency": concurrency,
        "elapsed_s": round(elapsed, 1),
        "lifecycles_per_s": round(lifecycles / elapsed, 2),
        "per_s_first_half_second_half": halves,
        "cpu_s": cpu,
        "services_cpu_ms_per_lifecycle": round(1000 * services_cpu / n, 1),
        "cpu_ms_per_lifecycle": {k: round(1000 * v / n, 1) for k, v in cpu.items()},
        "driver_cpu_s": round(driver_cpu, 2),
        "driver_cpu_ms_per_lifecycle": round(1000 * driver_cpu / n, 1),
        # The driver's polls cost the APIs CPU too (the owner's inbox, the rider's
        # offer, the status page before its live feed opens): so many per lifecycle.
        "driver_polls_per_lifecycle": round((end.polls - start.polls) / n, 1),
        "rss_mb_before": start.rss,
        "rss_mb_after": end.rss,
    }


async def saturation(
    world: World, mode: Mode, pids: dict[str, int], bar: tqdm
) -> tuple[dict[str, Any], list[Any]]:
    """`mode.concurrency` lanes, each driving one lifecycle after another, measured at
    saturation: from the `warm_up`-th lifecycle ending to the `warm_up + lifecycles`-th,
    while more keep every lane busy to the end (so neither the lanes starting together
    nor the last ones draining are in the figure). The warm-up is reported apart: the
    broker's JIT compiles its request paths over tens of thousands of requests, and
    over its first 600 lifecycles it took 4-6x the CPU per lifecycle it takes warm."""
    plans = world.plan(mode.warm_up + mode.lifecycles + mode.concurrency)
    events = sum(
        len(p.scenario.order_events)
        + len(p.scenario.store_events)
        + len(p.scenario.delivery_events)
        for p in plans
    ) / len(plans)
    driver = Driver(world, concurrency=mode.concurrency, follow=True)
    await world.sign_up(plans)  # accounts ahead: the CPU measured is the orders'
    marks = [Mark.now(pids, driver)]  # the start; the warm-up's end; the window's end
    ends: list[float] = []  # when each lifecycle ended (or failed)
    ends_at = (mode.warm_up, mode.warm_up + mode.lifecycles)

    def ended(plan: Any) -> None:
        ends.append(time.monotonic())
        if len(ends) in ends_at:
            marks.append(Mark.now(pids, driver))
        if len(ends) % 10 == 0:
            bar.set_postfix_str(f"lifecycles {len(ends)}/{len(plans)}")

    driver.on_end = ended
    await driver.run(plans)
    failed = sum(1 for p in plans if p.error)
    if mode.warm_up:
        start, warm_end, end = marks
    else:
        (start, end), warm_end = marks, None
    in_window = ends[mode.warm_up : mode.warm_up + mode.lifecycles]
    measured = window(warm_end or start, end, mode.lifecycles, in_window, mode.concurrency)
    result = {**measured, "failed": failed, "events_per_lifecycle": round(events, 2)}
    if warm_end is not None:
        result["warm_up"] = window(
            start, warm_end, mode.warm_up, ends[: mode.warm_up], mode.concurrency
        )
    return result, plans


async def gets(system: System, plans: list[Any], seconds: int) -> dict[str, Any]:
    plan = next(p for p in plans if p.order_id and p.finished_at)
    headers = {**plan.customer.headers, **await plan.customer.auth_headers()}
    mypage = await asyncio.to_thread(
        wrk, f"{system.url('mypage-service')}/mypage/orders/{plan.order_id}", seconds, headers
    )
    order = await asyncio.to_thread(
        wrk, f"{system.url('order-service')}/orders/{plan.order_id}", seconds, headers
    )
    return {"mypage_order": mypage, "order": order}


# ------------------------------------------------------------------ the run


async def system_part(
    system: System,
    mode: Mode,
    bar: tqdm,
    broker: int | None,
    *,
    database: int | None = None,
    saturation_only: bool = False,
) -> dict[str, Any]:
    pids = process_table(system)
    if broker:
        pids["kafka"] = broker
    if database:  # the PostgreSQL server, shared by the services as the broker is
        pids["postgresql"] = database
    async with client() as http:
        # Customers and riders act many times, two lanes' worth of each.
        world = World(http, system.endpoints, accounts=2 * mode.concurrency)
        orders = mode.hops + mode.warm_up + mode.lifecycles + mode.concurrency
        await world.open_stores(max(1, -(-orders // 50)))
        if saturation_only:
            sat, _ = await saturation(world, mode, pids, bar)
            bar.update()
            return {"saturation": sat}
        hop = await hops(world, mode, system)
        bar.update()
        sat, plans = await saturation(world, mode, pids, bar)
        bar.update()
        get = await gets(system, plans, mode.wrk_seconds)
        bar.update()
    return {"hop": hop, "saturation": sat, "gets": get}


@contextmanager
def trace_sink(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """testkit.trace_sink on `port`: OTLP/HTTP traces accepted and discarded."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "testkit.trace_sink", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/v1/traces", content=b"", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the trace sink never answered") from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def tracing_comparison(
    off: dict[str, Any], on: dict[str, Any], sink_cpu_s: float
) -> dict[str, Any]:
    """The same saturation stage without and with tracing (every span exported)."""

    def summary(sat: dict[str, Any]) -> dict[str, Any]:
        return {
            "lifecycles_per_s": sat["lifecycles_per_s"],
            "services_cpu_ms_per_lifecycle": sat["services_cpu_ms_per_lifecycle"],
        }

    return {
        "off": summary(off),
        "on": {**summary(on), "sink_cpu_s": round(sink_cpu_s, 2)},
        "ratio_lifecycles_per_s": round(on["lifecycles_per_s"] / off["lifecycles_per_s"], 3),
        "ratio_cpu_per_lifecycle": round(
            on["services_cpu_ms_per_lifecycle"] / off["services_cpu_ms_per_lifecycle"], 3
        ),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = MODES[args.mode]
    if args.concurrency:
        mode = replace(mode, concurrency=args.concurrency)
    require_wrk()
    report: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "mode": args.mode,
        "database": "postgresql" if args.postgres else "sqlite",
        "machine": machine(),
    }
    stages = len(STAGES) + (2 if args.tracing == "both" else 0)
    bar = tqdm(total=stages, desc="bench", unit="stage", file=sys.stderr)
    broker_gen = fresh_broker(args.kafka_port)
    broker = next(broker_gen)
    bar.update()
    sink_port = args.port_offset + 8080 + SINK_PORT_OFFSET
    traced = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}

    def system_run(data: Path, env: dict[str, str], saturation_only: bool) -> dict[str, Any]:
        urls = postgres_urls() if args.postgres else {}  # fresh databases each time
        system = System(
            data,
            broker.bootstrap,
            port_offset=args.port_offset,
            database_urls=urls,
            extra_env={**env, **POSTGRES_POOLS} if args.postgres else env,
        )
        try:
            system.start(timeout=180)
            bar.update()
            part = system_part(
                system,
                mode,
                bar,
                broker_pid(broker.home),
                database=postgres_pid() if args.postgres else None,
                saturation_only=saturation_only,
            )
            # The driver on libuv's loop, as the APIs are: its CPU shares the box with
            # the system it measures, so the less it takes the less it skews.
            return uvloop.run(part)
        finally:
            system.stop()

    try:
        report["transport"] = asyncio.run(transport(broker.bootstrap, mode))
        bar.update()
        report["bare_app"] = bare_app(args.port_offset + 8080 + BARE_PORT_OFFSET, mode.wrk_seconds)
        bar.update()
        sink_context = trace_sink(sink_port) if args.tracing != "off" else nullcontext()
        with tempfile.TemporaryDirectory(prefix="bench-") as data, sink_context as sink:
            report["tracing_mode"] = args.tracing
            first_env = traced if args.tracing == "on" else {}
            report.update(system_run(Path(data) / "first", first_env, saturation_only=False))
            if args.tracing == "both" and sink is not None:
                sink_before = cpu_seconds(sink.pid)
                again = system_run(Path(data) / "traced", traced, saturation_only=True)
                report["tracing"] = tracing_comparison(
                    report["saturation"], again["saturation"], cpu_seconds(sink.pid) - sink_before
                )
    finally:
        bar.close()
        next(broker_gen, None)  # stops the broker
    report["machine"]["loadavg_end"] = loadavg()
    report["table"] = table(report)
    return report


def postgres_pid() -> int:
    from testkit import PostgresServer

    return PostgresServer().pid()


def postgres_urls() -> dict[str, str]:
    from testkit import PostgresServer
    from testkit.launcher import SERVICES

    server = PostgresServer()
    return {s.name: server.reset(f"bench_{s.package}") for s in SERVICES}


def table(r: dict[str, Any]) -> list[dict[str, Any]]:
    t, sat, bare = r["transport"], r["saturation"], r["bare_app"]
    per_lifecycle = sat["events_per_lifecycle"]

    def row(figure: str, value: float | None, limit: float | None, unit: str) -> dict[str, Any]:
        ratio = round(value / limit, 3) if value is not None and limit else None
        return {"figure": figure, "value": value, "limit": limit, "ratio": ratio, "unit": unit}

    rows = [
        row(
            "lifecycles/s at saturation (limit: batched produce / events per lifecycle)",
            sat["lifecycles_per_s"],
            round(t["batched_produce_msgs_per_s"] / per_lifecycle, 1),
            "/s",
        ),
        row(
            "lifecycles/s vs one-at-a-time produce / events per lifecycle",
            sat["lifecycles_per_s"],
            round(t["one_at_a_time_produce_msgs_per_s"] / per_lifecycle, 1),
            "/s",
        ),
        row(
            "services CPU per lifecycle (target 30)", sat["services_cpu_ms_per_lifecycle"], 30, "ms"
        ),
        row(
            "driver CPU per lifecycle (not the system)",
            sat["driver_cpu_ms_per_lifecycle"],
            None,
            "ms",
        ),
        row(
            "event hop p50 (limit: produce->consume p50)",
            r["hop"]["p50_ms"],
            t["produce_consume_p50_ms"],
            "ms",
        ),
        row(
            "event hop p99 (limit: produce->consume p99)",
            r["hop"]["p99_ms"],
            t["produce_consume_p99_ms"],
            "ms",
        ),
    ]
    for key, path in (("mypage_order", "GET /mypage/orders/{id}"), ("order", "GET /orders/{id}")):
        got = r["gets"][key]
        rows.append(
            row(f"{path} req/s (limit: bare FastAPI)", got["req_per_s"], bare["req_per_s"], "/s")
        )
        rows.append(row(f"{path} p99 (limit: bare FastAPI)", got["p99_ms"], bare["p99_ms"], "ms"))
    if "tracing" in r:
        off, on = r["tracing"]["off"], r["tracing"]["on"]
        rows.append(
            row(
                "lifecycles/s with tracing exported (limit: the same without)",
                on["lifecycles_per_s"],
                off["lifecycles_per_s"],
                "/s",
            )
        )
        rows.append(
            row(
                "services CPU per lifecycle with tracing (limit: the same without)",
                on["services_cpu_ms_per_lifecycle"],
                off["services_cpu_ms_per_lifecycle"],
                "ms",
            )
        )
    rows.append(
        row(
            "memory, all services, after saturation (before)",
            round(sum(v for k, v in sat["rss_mb_after"].items() if k not in SHARED), 1),
            round(sum(v for k, v in sat["rss_mb_before"].items() if k not in SHARED), 1),
            "MB",
        )
    )
    return rows


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"bench ({report['mode']}, {report['database']}) on {m['cpus']} x {m['cpu']}, "
        f"{m['memory_mb']} MB, Python {m['python']}; load average "
        f"{m['loadavg_start']} at start, {m['loadavg_end']} at end",
        f"{'figure':<78} {'value':>10} {'limit':>10} {'ratio':>7}",
    ]
    for row in report["table"]:
        value = "-" if row["value"] is None else f"{row['value']}{row['unit']}"
        limit = "-" if row["limit"] is None else f"{row['limit']}{row['unit']}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']}"
        lines.append(f"{row['figure']:<78} {value:>10} {limit:>10} {ratio:>7}")
    t = report["transport"]
    lines.append(
        f"transport: batched {t['batched_produce_msgs_per_s']}/s, one-at-a-time "
        f"{t['one_at_a_time_produce_msgs_per_s']}/s, consume {t['consume_msgs_per_s']}/s"
    )
    for stage, ms in report["hop"].get("stages_ms", {}).items():
        lines.append(f"hop stage {stage:<66} p50 {ms['p50']:>8} p99 {ms['p99']:>8} ms")
    sat = report["saturation"]
    lines.append(
        f"saturation: {sat['lifecycles']} lifecycles ({sat['failed']} failed) in "
        f"{sat['elapsed_s']} s, halves {sat['per_s_first_half_second_half']} /s; CPU ms per "
        f"lifecycle {sat['cpu_ms_per_lifecycle']}; the driver's polls per lifecycle "
        f"{sat['driver_polls_per_lifecycle']}"
    )
    cold = sat.get("warm_up")
    if cold:
        lines.append(
            f"warm-up (a cold system, not the figure): {cold['lifecycles']} lifecycles at "
            f"{cold['lifecycles_per_s']} /s, services' CPU {cold['services_cpu_ms_per_lifecycle']}"
            f" ms per lifecycle, Kafka's {cold['cpu_ms_per_lifecycle'].get('kafka')} ms"
        )
    if "tracing" in report:
        tr = report["tracing"]
        lines.append(
            f"tracing: lifecycles/s {tr['off']['lifecycles_per_s']} off, "
            f"{tr['on']['lifecycles_per_s']} on ({tr['ratio_lifecycles_per_s']}x); services CPU "
            f"ms per lifecycle {tr['off']['services_cpu_ms_per_lifecycle']} off, "
            f"{tr['on']['services_cpu_ms_per_lifecycle']} on ({tr['ratio_cpu_per_lifecycle']}x)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=sorted(MODES), default=os.environ.get("BENCH", "full"))
    parser.add_argument("--kafka-port", type=int, default=TEST_KAFKA_PORT + 300)
    parser.add_argument("--port-offset", type=int, default=E2E_PORT_OFFSET + 1000)
    parser.add_argument("--postgres", action="store_true", help="the services on PostgreSQL")
    parser.add_argument(
        "--concurrency", type=int, help="lanes (orders in flight) at saturation; default 40"
    )
    parser.add_argument("--report-dir", type=Path, help="default: .local/reports/")
    parser.add_argument(
        "--tracing",
        choices=("off", "on", "both"),
        help="traces exported to a discarding sink: off, on, or both (the saturation stage "
        "again with tracing on, beside the run without); default both in full mode, else off",
    )
    args = parser.parse_args()
    if args.tracing is None:
        args.tracing = "both" if args.mode == "full" else "off"
    report = run(args)
    stamp = report["measured_at"][:19].replace(":", "")
    path = write_report(f"bench-{args.mode}-{stamp}", report, args.report_dir)
    print(render(report))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
