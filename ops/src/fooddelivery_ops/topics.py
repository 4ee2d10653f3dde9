"""Create the event and dead-letter topics with explicit partitions (idempotent).

python -m fooddelivery_ops topics --bootstrap 127.0.0.1:9092 \\
    [--replication-factor 3 --min-insync-replicas 2]

The defaults (1/1) suit the single embedded broker; a cluster passes the values
its Strimzi KafkaTopics declare (deploy/k8s), so every environment creates the
same topics.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from shared_events.topics import ALL_TOPICS, PARTITIONS


@dataclass(frozen=True)
class TopicSettings:
    """How every event and dead-letter topic is created."""

    replication_factor: int = 1
    min_insync_replicas: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.min_insync_replicas <= self.replication_factor:
            raise ValueError("need 1 <= min.insync.replicas <= replication factor")

    def new_topic(self, name: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=PARTITIONS,
            replication_factor=self.replication_factor,
            topic_configs={"min.insync.replicas": str(self.min_insync_replicas)},
        )


async def ensure_topics(
    bootstrap_servers: str, deadline: float = 60, settings: TopicSettings | None = None
) -> list[str]:
    """Create whichever topics are missing; returns the ones created."""
    settings = settings or TopicSettings()
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(deadline), wait=wait_fixed(0.5), reraise=True
    ):
        with attempt:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=bootstrap_servers, client_id="fooddelivery-infra"
            )
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                missing = [t for t in ALL_TOPICS if t not in existing]
                if missing:
                    await admin.create_topics([settings.new_topic(t) for t in missing])
                return missing
            finally:
                await admin.close()
    return []  # pragma: no cover


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fooddelivery_ops topics", description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    defaults = TopicSettings()
    parser.add_argument(
        "--replication-factor", type=int, default=defaults.replication_factor, metavar="N"
    )
    parser.add_argument(
        "--min-insync-replicas", type=int, default=defaults.min_insync_replicas, metavar="N"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    cli = parser()
    args = cli.parse_args(argv)
    try:
        settings = TopicSettings(args.replication_factor, args.min_insync_replicas)
    except ValueError as exc:
        cli.error(str(exc))
    created = asyncio.run(ensure_topics(args.bootstrap, settings=settings))
    print(
        f"topics: created {len(created)}, {len(ALL_TOPICS)} present "
        f"(replication {settings.replication_factor}, "
        f"min.insync.replicas {settings.min_insync_replicas})"
    )


if __name__ == "__main__":
    main()
