"""Kafka's own command-line tools (infra/kafka/kafka-cli.sh, `make kafka-cli`) run
against a real broker: the consumer groups with their offsets and lag, the topics
with the settings `python -m fooddelivery_ops topics` created them with."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared_events.topics import ORDER_EVENTS, PARTITIONS
from testkit import KafkaBroker
from testkit.kafka_cli import KAFKA_CLI, describe_group, group_lag, kafka_cli

pytestmark = pytest.mark.kafka


async def test_consumer_groups_shows_a_groups_committed_offsets_and_lag(
    kafka: KafkaBroker,
) -> None:
    group = f"deploy-cli-{uuid.uuid4().hex[:8]}"
    partitions = [TopicPartition(ORDER_EVENTS, p) for p in range(PARTITIONS)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False
    )
    await producer.start()
    await consumer.start()
    try:
        consumer.assign(partitions)
        committed = await consumer.end_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in committed.items()})
        for _ in range(2):
            await producer.send_and_wait(ORDER_EVENTS, b"{}", key=b"cli", partition=0)
    finally:
        await consumer.stop()
        await producer.stop()

    listed = kafka_cli(kafka.port, "consumer-groups", "--list")
    assert listed.returncode == 0, listed.stderr
    assert group in listed.stdout.split()

    described = describe_group(kafka.port, group)
    rows = {int(r["PARTITION"]): r for r in described if r["TOPIC"] == ORDER_EVENTS}
    assert set(rows) == set(range(PARTITIONS))
    for tp in partitions:
        row = rows[tp.partition]
        assert int(row["CURRENT-OFFSET"]) == committed[tp]
        assert int(row["LAG"]) == int(row["LOG-END-OFFSET"]) - committed[tp]
    assert int(rows[0]["LAG"]) >= 2  # the two messages sent after the commit
    lag = group_lag(kafka.port, group)
    assert {tp: lag[(tp.topic, tp.partition)] for tp in partitions} == {
        tp: int(rows[tp.partition]["LAG"]) for tp in partitions
    }


def test_topics_describes_what_the_topics_command_created(kafka: KafkaBroker) -> None:
    described = kafka_cli(kafka.port, "topics", "--describe", "--topic", ORDER_EVENTS)
    assert described.returncode == 0, described.stderr
    summary = described.stdout.splitlines()[0]
    assert f"PartitionCount: {PARTITIONS}" in summary
    assert "ReplicationFactor: 1" in summary  # the embedded broker's defaults (1/1)
    assert "min.insync.replicas=1" in summary


def test_an_unknown_tool_is_refused_with_the_list_of_tools() -> None:
    refused = subprocess.run(
        [str(KAFKA_CLI), "zookeeper-shell"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "consumer-groups" in refused.stderr and "topics" in refused.stderr
