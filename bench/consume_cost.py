"""What consuming costs per message apart from any handler: the chassis's worker
(`service_kit.worker.Worker`, with its rebalance hand-over, held partitions, health
and metrics port) against a bare aiokafka consumer loop on the process's own event
loop, both reading the same messages of the three event topics at once (two
consumer groups, two processes, the same noise), each message skipped from its
`event_type` header by the same `EventProcessor`, offsets committed once a second by
both. Messages arrive one by one at a steady rate, as in the system (a fetch brings
about one). The bare loop is the floor the worker is held to. Until `72da019` the
worker was a Faust agent, and this script measured it against the same bare loop:
1,077-1,833 us per message against 440-803 (README, Performance), the reason the
worker left faust-streaming.

    TEST_KAFKA_PORT=19560 uv run python bench/consume_cost.py --rate 100 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from service_kit.consumer import EventProcessor, RawMessage
from service_kit.outbox import message_headers
from service_kit.worker import Worker, run
from shared_events.envelope import Envelope
from shared_events.topics import EVENT_TOPICS
from testkit import TEST_KAFKA_PORT, fresh_broker, lag
from testkit.bench import cpu_seconds

GROUPS = {"worker": "consume-cost-worker", "plain": "consume-cost-plain"}


class SkipAll:
    """A bus with no policies: every message is skipped from its header."""

    def handles(self, event: object) -> bool:
        return False

    def handles_type(self, event_type: str) -> bool:
        return False

    async def handle_event(self, envelope: Envelope, event: object) -> bool:
        raise AssertionError("nothing is handled")

    async def handle_batch(self, items: Sequence[object]) -> list[bool]:
        raise AssertionError("nothing is handled")


class NoDeadLetters:
    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None:
        raise AssertionError("nothing fails")


def processor() -> EventProcessor:
    return EventProcessor("consume-cost", SkipAll(), NoDeadLetters())


def run_worker(bootstrap: str, web_port: int) -> None:
    async def factory() -> EventProcessor:
        return processor()

    run(
        Worker(
            GROUPS["worker"],
            list(EVENT_TOPICS),
            factory,
            bootstrap_servers=bootstrap,
            web_port=web_port,
        )
    )


async def run_plain(bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(
        *EVENT_TOPICS,
        bootstrap_servers=bootstrap,
        group_id=GROUPS["plain"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    events = processor()
    await consumer.start()
    try:
        committed = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                await events.process_batch([RawMessage.of(r) for r in records])
            if time.monotonic() - committed >= 1.0:
                await consumer.commit()  # what it fetched is processed: its position
                committed = time.monotonic()
    finally:
        await consumer.stop()


async def produce(bootstrap: str, rate: float, seconds: float) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent = 0
    try:
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            topic = EVENT_TOPICS[sent % len(EVENT_TOPICS)]
            await producer.send(
                topic,
                b"{}" + b" " * 300,  # never decoded: skipped from its header
                key=str(sent % 97).encode(),
                headers=message_headers("Unhandled", 1),
            )
            sent += 1
            await asyncio.sleep(max(0.0, began + sent / rate - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def caught_up(bootstrap: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        lags = [await lag(bootstrap, group, list(EVENT_TOPICS)) for group in GROUPS.values()]
        if not any(lags):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("a consumer never caught up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kafka-port", type=int, default=TEST_KAFKA_PORT)
    parser.add_argument("--web-port", type=int, default=TEST_KAFKA_PORT + 50, help="the worker's")
    parser.add_argument("--role", choices=tuple(GROUPS), help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "worker":
        return run_worker(args.bootstrap, args.web_port)
    if args.role == "plain":
        return asyncio.run(run_plain(args.bootstrap))
    broker = fresh_broker(args.kafka_port)
    bootstrap = next(broker).bootstrap
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    scratch = tempfile.mkdtemp()
    children = {
        role: subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__)),
                "--role",
                role,
                "--bootstrap",
                bootstrap,
                "--web-port",
                str(args.web_port),
            ],
            env=env,
            cwd=scratch,
        )
        for role in GROUPS
    }
    try:
        asyncio.run(produce(bootstrap, 10, 3))  # both joined, positioned, warm
        asyncio.run(caught_up(bootstrap))
        for r in range(args.rounds):
            cpu = {role: cpu_seconds(c.pid) for role, c in children.items()}
            began = time.monotonic()
            n = asyncio.run(produce(bootstrap, args.rate, args.seconds))
            asyncio.run(caught_up(bootstrap))
            wall = time.monotonic() - began
            used = {role: cpu_seconds(c.pid) - cpu[role] for role, c in children.items()}
            print(
                f"round {r}: {n} messages at {args.rate}/s over {wall:.0f} s, CPU per message: "
                + ", ".join(f"{role} {used[role] * 1e6 / n:.0f} us" for role in GROUPS),
                flush=True,
            )
        idle = {role: cpu_seconds(c.pid) for role, c in children.items()}
        time.sleep(10)
        print(
            "idle CPU ms/s: "
            + ", ".join(
                f"{r} {(cpu_seconds(c.pid) - idle[r]) * 100:.1f}" for r, c in children.items()
            ),
            flush=True,
        )
    finally:
        for child in children.values():
            child.terminate()
        for child in children.values():
            child.wait(30)
        next(broker, None)


if __name__ == "__main__":
    main()
