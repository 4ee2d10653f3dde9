"""Create the event and dead-letter topics with explicit partitions (idempotent).

python -m fooddelivery_ops topics --bootstrap 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from shared_events.topics import ALL_TOPICS, PARTITIONS


async def ensure_topics(bootstrap_servers: str, deadline: float = 60) -> list[str]:
    """Create whichever topics are missing; returns the ones created."""
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
                    await admin.create_topics(
                        [
                            NewTopic(t, num_partitions=PARTITIONS, replication_factor=1)
                            for t in missing
                        ]
                    )
                return missing
            finally:
                await admin.close()
    return []  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fooddelivery_ops topics", description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args(argv)
    created = asyncio.run(ensure_topics(args.bootstrap))
    print(f"topics: created {len(created)}, {len(ALL_TOPICS)} present")


if __name__ == "__main__":
    main()
