"""Two test brokers side by side, A from this tree's infra/kafka/kafka.sh and B from
another copy of it (its settings or JVM flags changed), each fresh: their idle CPU over
the same span, then produce -> consume round trips (broker_cost.py's) on A and B in
alternating order, round by round, so both see the same noise of a shared host.

    cp -r infra/kafka /tmp/b && $EDITOR /tmp/b/kafka.sh
    TEST_KAFKA_PORT=19550 uv run python bench/broker_ab.py /tmp/b/kafka.sh --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from broker_cost import round_trips

from fooddelivery_ops.topics import ensure_topics
from testkit import KAFKA_SH, ROOT, TEST_KAFKA_PORT
from testkit.bench import cpu_seconds


def kafka(script: Path, port: int, home: Path, command: str) -> None:
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_HOME": str(home),
        "KAFKA_LIBS": str(ROOT / ".local" / "kafka-libs"),  # a copy elsewhere uses ours
    }
    subprocess.run([str(script), command], check=True, env=env)


def idle(pids: Mapping[str, int], seconds: float) -> str:
    began, cpu = time.monotonic(), {k: cpu_seconds(p) for k, p in pids.items()}
    time.sleep(seconds)
    wall = time.monotonic() - began
    return ", ".join(f"{k} {(cpu_seconds(p) - cpu[k]) * 1000 / wall:.1f}" for k, p in pids.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("b_script", type=Path, help="B's kafka.sh")
    parser.add_argument("--trips", type=int, default=1500, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle baseline")
    parser.add_argument("--kafka-port", type=int, default=TEST_KAFKA_PORT, help="A's; B's +300")
    args = parser.parse_args()
    local = ROOT / ".local"
    brokers = {
        "A": (KAFKA_SH, args.kafka_port, local / f"kafka-ab-{args.kafka_port}"),
        "B": (args.b_script, args.kafka_port + 300, local / f"kafka-ab-{args.kafka_port + 300}"),
    }
    try:
        for script, port, home in brokers.values():
            kafka(script, port, home, "down")
            shutil.rmtree(home, ignore_errors=True)
            kafka(script, port, home, "up")
            asyncio.run(ensure_topics(f"127.0.0.1:{port}"))
        pids = {k: int((home / "kafka.pid").read_text()) for k, (_, _, home) in brokers.items()}
        print(f"idle CPU ms/s: {idle(pids, args.idle)}", flush=True)
        for r in range(args.rounds):
            for k in ("A", "B") if r % 2 == 0 else ("B", "A"):
                port = brokers[k][1]
                began, cpu = time.monotonic(), cpu_seconds(pids[k])
                asyncio.run(round_trips(f"127.0.0.1:{port}", args.trips))
                used, wall = cpu_seconds(pids[k]) - cpu, time.monotonic() - began
                print(
                    f"round {r} {k}: {used * 1e6 / args.trips:.0f} us CPU per round trip "
                    f"({wall:.1f} s)",
                    flush=True,
                )
        print(f"idle CPU ms/s after: {idle(pids, args.idle)}", flush=True)
    finally:
        for script, port, home in brokers.values():
            kafka(script, port, home, "down")


if __name__ == "__main__":
    main()
