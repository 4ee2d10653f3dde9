"""The test broker's CPU per request, apart from batching: produce -> consume round trips
one at a time (an idempotent acks=all send, the consumer's long-poll fetch answering it,
an offset commit every 20), on a fresh broker from infra/kafka/kafka.sh, in rounds, so a
change to the broker's settings or JVM flags can be compared round by round (the first
rounds pay for the JIT compiler warming up).

    TEST_KAFKA_PORT=19550 uv run python bench/broker_cost.py --trips 2000 --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared_events.topics import ORDER_EVENTS
from testkit import TEST_KAFKA_PORT, fresh_broker
from testkit.bench import broker_pid, cpu_seconds


async def round_trips(bootstrap: str, n: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0
    )
    consumer = AIOKafkaConsumer(
        ORDER_EVENTS,
        bootstrap_servers=bootstrap,
        group_id=f"broker-cost-{uuid.uuid4()}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=2000)  # assigned, positioned at the end
        for i in range(n):
            await producer.send_and_wait(ORDER_EVENTS, b"x" * 400, key=str(i % 50).encode())
            while not await consumer.getmany(timeout_ms=2000):
                pass  # a long poll: it returns as soon as the record is there
            if i % 20 == 0:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trips", type=int, default=2000, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idle baseline")
    parser.add_argument("--kafka-port", type=int, default=TEST_KAFKA_PORT)
    args = parser.parse_args()
    broker = fresh_broker(args.kafka_port)
    started = next(broker)
    try:
        pid = broker_pid(started.home)
        assert pid is not None, "the broker's process is not found"
        began, cpu = time.monotonic(), cpu_seconds(pid)
        time.sleep(args.idle)  # the broker's own background work, with nothing to do
        idle = (cpu_seconds(pid) - cpu) / (time.monotonic() - began)
        print(f"broker idle: {idle * 100:.1f}% of a core", flush=True)
        for r in range(args.rounds):
            began, cpu = time.monotonic(), cpu_seconds(pid)
            asyncio.run(round_trips(started.bootstrap, args.trips))
            used, wall = cpu_seconds(pid) - cpu, time.monotonic() - began
            print(
                f"round {r}: broker {used * 1e6 / args.trips:.0f} us CPU per round trip "
                f"({args.trips} in {wall:.1f} s)",
                flush=True,
            )
    finally:
        next(broker, None)


if __name__ == "__main__":
    main()
