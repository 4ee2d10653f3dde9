"""Reading topics as they stand: from the beginning up to the end offsets taken at
start, so a reader finishes even while producers keep publishing.

A plain consumer with no group: it assigns itself the partitions, commits nothing,
and so leaves every consumer group's offsets untouched. Used by the read-model
rebuild, the dead-letter tool and the test harness.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from service_kit.consumer import RawMessage

log = logging.getLogger(__name__)


class TopicSnapshot:
    """`async with TopicSnapshot(...) as snapshot: async for m in snapshot.messages()`.

    Topics not on the broker are an error (LookupError), unless `missing_ok`: then
    they are skipped with a warning (asking for them could auto-create them)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        client_id: str,
        stall_timeout: float = 60,
        missing_ok: bool = False,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = list(topics)
        self._client_id = client_id
        self._stall_timeout = stall_timeout
        self._missing_ok = missing_ok
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=client_id,
        )
        self.begin: dict[TopicPartition, int] = {}
        self.end: dict[TopicPartition, int] = {}

    @property
    def total(self) -> int:
        """How many messages lie between the first and the captured end offsets."""
        return sum(self.end[tp] - self.begin[tp] for tp in self.end)

    async def __aenter__(self) -> TopicSnapshot:
        partitions = await self._partitions()
        await self._consumer.start()
        try:
            if partitions:
                self._consumer.assign(partitions)
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
        if set(self.end) - remaining:
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
                    yield RawMessage.of(record)
            for tp in list(remaining):
                if await consumer.position(tp) >= self.end[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)  # nothing past the captured end

    async def _partitions(self) -> list[TopicPartition]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = sorted(set(self._topics) - existing)
            if missing and not self._missing_ok:
                raise LookupError(f"not on the broker: {', '.join(missing)}")
            for topic in missing:
                log.warning("no topic %s on %s", topic, self._bootstrap)
            wanted = [t for t in self._topics if t in existing]
            described = await admin.describe_topics(wanted) if wanted else []
        finally:
            await admin.close()
        return sorted(
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        )


async def read_snapshot(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    client_id: str = "snapshot",
    stall_timeout: float = 60,
    missing_ok: bool = False,
) -> list[RawMessage]:
    """Every message of `topics` up to the end offsets as they are when called."""
    async with TopicSnapshot(
        bootstrap_servers,
        topics,
        client_id=client_id,
        stall_timeout=stall_timeout,
        missing_ok=missing_ok,
    ) as snapshot:
        return [message async for message in snapshot.messages()]


async def end_offsets(bootstrap_servers: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of `topics`, as of now."""
    async with TopicSnapshot(bootstrap_servers, topics, client_id="snapshot") as snapshot:
        return dict(snapshot.end)


async def committed_offsets(
    bootstrap_servers: str, group: str, *, within: float = 15, client_id: str = "snapshot"
) -> dict[TopicPartition, int]:
    """The next offset a consumer group will read, per partition it has committed.
    Asked again while the broker cannot answer yet (a broker that never had a group
    creates its offsets topic on the first ask)."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(within),
        wait=wait_fixed(0.5),
        retry=retry_if_exception_type(KafkaError),
        reraise=True,
    ):
        with attempt:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=client_id)
            try:
                await admin.start()
                found = await admin.list_consumer_group_offsets(group)
            finally:
                await admin.close()
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
