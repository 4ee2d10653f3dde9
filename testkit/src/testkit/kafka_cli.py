"""Kafka's own command-line tools (infra/kafka/kafka-cli.sh) from tests: the lag of a
consumer group as `kafka-consumer-groups --describe` reports it, so a fault test can
wait until it is back to 0 with the operator's own tool."""

from __future__ import annotations

import os
import subprocess

from testkit import ROOT

KAFKA_CLI = ROOT / "infra" / "kafka" / "kafka-cli.sh"


def kafka_cli(port: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one tool against the broker on 127.0.0.1:port; the caller checks returncode."""
    env = {**os.environ, "KAFKA_PORT": str(port)}
    return subprocess.run(
        [str(KAFKA_CLI), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def describe_group(port: int, group: str) -> list[dict[str, str]]:
    """The rows of `consumer-groups --describe --group G`, by column name."""
    done = kafka_cli(port, "consumer-groups", "--describe", "--group", group)
    if done.returncode != 0:
        raise RuntimeError(f"kafka-consumer-groups failed: {done.stderr.strip()[-500:]}")
    lines = [line.split() for line in done.stdout.splitlines() if line.strip()]
    header = next(line for line in lines if line[:2] == ["GROUP", "TOPIC"])
    return [dict(zip(header, line, strict=False)) for line in lines if line[0] != "GROUP"]


def group_lag(port: int, group: str) -> dict[tuple[str, int], int]:
    """(topic, partition) -> messages the group has not committed yet (a partition
    with no committed offset, CURRENT-OFFSET '-', counts from offset 0)."""
    lag: dict[tuple[str, int], int] = {}
    for row in describe_group(port, group):
        end = int(row["LOG-END-OFFSET"])
        current = row["CURRENT-OFFSET"]
        lag[(row["TOPIC"], int(row["PARTITION"]))] = end - (int(current) if current != "-" else 0)
    return lag
