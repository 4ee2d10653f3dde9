"""Reading event topics from the beginning, as the read-model rebuild does.

A plain consumer with no group: it takes every partition for itself, nothing is ever
committed, so the live worker's offsets (group `mypage-service`) are untouched.
It reads every partition up to the end offsets captured when it started, so a
rebuild finishes even while the live system keeps publishing.

What would be parked on the dead-letter topic is recorded instead (`RecordedProblems`):
the live worker parked it already, and a second copy would only confuse whoever
replays the dead letters.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from service_kit.consumer import DeadLetterPublisher, Outcome, RawMessage

ERROR_LIMIT = 300


@dataclass(frozen=True)
class Problem:
    """A message the live worker would have dead-lettered, and why."""

    topic: str
    partition: int
    offset: int
    error: str

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}  {self.error}"


class RecordedProblems(DeadLetterPublisher):
    """The EventProcessor's dead-letter sink for a rebuild: records, publishes nothing."""

    def __init__(self, consumer: str) -> None:
        super().__init__(consumer, bootstrap_servers="")  # never connects
        self.problems: list[Problem] = []

    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None:
        # First line only: a database error's later lines quote the statement's
        # parameters, which may hold a phone number.
        lines = str(error).splitlines()
        text = f"{type(error).__name__}: {lines[0] if lines else ''}"[:ERROR_LIMIT]
        self.problems.append(Problem(message.topic, message.partition, message.offset, text))

    async def close(self) -> None:
        pass


@dataclass
class Counts:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    problems: int = 0

    def add(self, outcome: Outcome) -> None:
        self.read += 1
        if outcome.status == "applied":
            self.applied += 1
        elif outcome.status == "duplicate":
            self.duplicates += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        else:
            self.problems += 1


class TopicReplay:
    """`async with TopicReplay(...) as replay: async for message in replay.messages()`."""

    def __init__(
        self, bootstrap_servers: str, topics: Sequence[str], *, stall_timeout: float = 60
    ) -> None:
        self._topics = list(topics)
        self._stall_timeout = stall_timeout
        # Topics named with no group: every partition is assigned to this consumer
        # alone (aiokafka's NoGroupCoordinator), and there is nothing to commit to.
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="mypage-rebuild",
        )
        self.begin: dict[TopicPartition, int] = {}
        self.end: dict[TopicPartition, int] = {}

    @property
    def total(self) -> int:
        """How many messages lie between the first and the captured end offsets."""
        return sum(self.end[tp] - self.begin[tp] for tp in self.end)

    async def __aenter__(self) -> TopicReplay:
        await self._consumer.start()
        try:
            partitions = sorted(self._consumer.assignment())
            missing = set(self._topics) - {tp.topic for tp in partitions}
            if missing:
                raise LookupError(f"not on the broker: {', '.join(sorted(missing))}")
            await self._consumer.seek_to_beginning(*partitions)
            self.begin = await self._consumer.beginning_offsets(partitions)
            self.end = await self._consumer.end_offsets(partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def messages(self) -> AsyncIterator[RawMessage]:
        """Each partition in offset order, up to its end offset; partitions interleave."""
        consumer = self._consumer
        remaining = {tp for tp in self.end if self.begin[tp] < self.end[tp]}
        consumer.pause(*(set(self.end) - remaining))
        last_progress = time.monotonic()
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=500)
            if not batch and time.monotonic() - last_progress > self._stall_timeout:
                raise TimeoutError(
                    f"no message for {self._stall_timeout:.0f}s with "
                    f"{len(remaining)} partitions unfinished; is the broker up?"
                )
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= self.end[tp]:
                        break
                    last_progress = time.monotonic()
                    yield RawMessage(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        key=record.key,
                        value=record.value,
                        headers=tuple(record.headers or ()),
                    )
            for tp in list(remaining):
                if await consumer.position(tp) >= self.end[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)  # nothing past the captured end


async def committed_offsets(
    bootstrap_servers: str, group: str, *, within: float = 15
) -> dict[TopicPartition, int]:
    """The next offset a consumer group will read, per partition it has committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="mypage-rebuild")
    await admin.start()
    try:
        # A broker that never had a group creates its offsets topic on the first ask.
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(within),
            wait=wait_fixed(0.5),
            retry=retry_if_exception_type(KafkaError),
            reraise=True,
        ):
            with attempt:
                found = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
    finally:
        await admin.close()
