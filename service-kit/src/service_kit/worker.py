"""The worker: one aiokafka consumer, the service's consumer group, on the process's
own event loop, over the topics that carry the events the bus has policies for.

A round takes what has arrived (up to BATCH_MAX) and hands it to
`EventProcessor.process_batch` (one transaction for the batch, one by one if it
fails), which never raises. An offset becomes committable only once its message was
applied, skipped or parked on the dead-letter topic, never for a batch cut off
mid-way. Committable offsets go to the broker every COMMIT_INTERVAL, at once when the
worker falls idle, before a rebalance hands partitions to another worker, and on
stop. A crash redelivers what was applied but not yet committed; the inbox skips it.

On SIGTERM (or Ctrl-C) the batch in flight finishes, its offsets are committed and
the consumer leaves its group; whatever the broker does, the process is gone within
WORKER_STOP_GRACE_S (a watchdog thread).

The worker serves `/health/live`, `/health/ready` (its consumer owns partitions,
none is held, its database and the broker answer: runtime.py has the health design)
and `/metrics` on its web port (WORKER_WEB_PORT).

Why not faust-streaming, which the design card named: consuming through Faust cost
1.1-1.8 ms of CPU per message against 0.4-0.8 ms for this consumer on the same
messages (`bench/consume_cost.py`; every fetch and commit crossed into Faust's
consumer thread and back, and its drain loop made four tasks per message), ~15 ms of
the ~48 ms a lifecycle cost the services (issue 11).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn
import uvloop
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from fastapi.responses import Response
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from service_kit import metrics
from service_kit.consumer import DeadLetterPublisher, EventProcessor, RawMessage
from service_kit.http import Ready, health_router, include
from service_kit.messagebus import MessageBus
from service_kit.runtime import (
    Check,
    Platform,
    configure_logging,
    freeze_built_objects,
)
from service_kit.settings import ServiceSettings
from service_kit.telemetry import configure_tracing

log = logging.getLogger(__name__)

# A batch is what arrived while the previous one was applied, up to BATCH_MAX.
BATCH_MAX = int(os.environ.get("CONSUMER_BATCH_MAX", "200"))
# Offsets go to the broker every COMMIT_INTERVAL (and when the worker falls idle), each
# commit covering every batch applied since, rather than an OffsetCommit round trip per
# batch (at light load a batch is one event).
COMMIT_INTERVAL = float(os.environ.get("CONSUMER_COMMIT_INTERVAL_MS", "1000")) / 1000
# Busy (more arrived while the previous batch was applied), a batch waits this long
# for more, so its fixed costs (transaction, preload, wake) spread over more events;
# idle, the first event goes at once.
LINGER = float(os.environ.get("CONSUMER_LINGER_MS", "5")) / 1000
# Idle, a round waits this long for a message before it looks at its commits again.
IDLE_WAIT_MS = 1000
# The broker holds an empty fetch this long (aiokafka's default is 500 ms): an idle
# worker asks twice less often, and a message still comes back at once.
FETCH_MAX_WAIT_MS = 1000
# A worker that dies without leaving its group (SIGKILL, a lost node) keeps its
# partitions this long; its heartbeats tell a live one of a rebalance (aiokafka's
# defaults, 10 s and 3 s).
SESSION_TIMEOUT_MS = int(os.environ.get("CONSUMER_SESSION_TIMEOUT_MS", "10000"))
HEARTBEAT_INTERVAL_MS = int(os.environ.get("CONSUMER_HEARTBEAT_INTERVAL_MS", "3000"))

Arrived = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]

STOP_GRACE_S = 15.0
FORCED_EXIT = 3  # the exit status of a stop that outlived its grace period


def stop_grace() -> float:
    return float(os.environ.get("WORKER_STOP_GRACE_S", STOP_GRACE_S))


class Offsets:
    """Per partition, the offset after the last message done with (what a commit
    names) and what the broker last took, so only what moved is committed again."""

    def __init__(self) -> None:
        self._done: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}

    def done(self, tp: TopicPartition, offset: int) -> None:
        self._done[tp] = offset + 1

    def due(self, owned: Collection[TopicPartition]) -> dict[TopicPartition, int]:
        return {
            tp: offset
            for tp, offset in self._done.items()
            if tp in owned and self._committed.get(tp) != offset
        }

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def committed_at(self, tp: TopicPartition) -> int | None:
        return self._committed.get(tp)

    def forget(self, tps: Collection[TopicPartition]) -> None:
        """Partitions handed to another worker: what it commits is its own."""
        for tp in tps:
            self._done.pop(tp, None)
            self._committed.pop(tp, None)


class WorkerReady(Ready):
    partitions: dict[str, list[int]]  # owned, by topic
    held: dict[str, list[int]]  # cut off mid-batch, waiting for a restart


def by_topic(tps: Collection[TopicPartition]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for tp in sorted(tps):
        found.setdefault(tp.topic, []).append(tp.partition)
    return found


class Worker:
    """One consumer, one batch at a time (concurrency 1: a partition's events are
    applied in their order)."""

    def __init__(
        self,
        service: str,
        topics: Sequence[str],
        processor_factory: Callable[[], Awaitable[EventProcessor]],
        *,
        bootstrap_servers: str,
        web_port: int,
        web_bind: str = "127.0.0.1",
        ready_checks: Mapping[str, Check] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
        readings: Mapping[metrics.Gauge, metrics.Reading] | None = None,
    ) -> None:
        self.service = service
        self._topics = list(topics)
        self._processor_factory = processor_factory
        self._bootstrap = bootstrap_servers
        self._ready_checks = dict(ready_checks or {})
        self._on_stop = on_stop
        self._readings = dict(readings or {})
        self._web = _WebServer(
            uvicorn.Config(
                self.web_app(),
                host=web_bind,
                port=web_port,
                log_config=None,  # the chassis's logging, set up already
                access_log=False,
                lifespan="off",
                loop="none",
            )
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._offsets = Offsets()
        # Partitions whose batch was cut off mid-way (its task cancelled inside the
        # transaction): nothing more of them is applied, which would overtake the cut-off
        # event, nor committed, until a restart (or a rebalance) fetches them again.
        self.held: set[TopicPartition] = set()
        # Held while a batch is applied, so a rebalance hands over a partition only
        # between batches, with what was applied committed.
        self._applying = asyncio.Lock()
        self._handovers = 0  # rebalances so far: a batch fetched before one is not applied
        self.stopping = False
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Until `stop()`: the web port first (so a probe sees "not ready" rather than
        nothing), then the consumer."""
        self._task = asyncio.current_task()
        web = asyncio.create_task(self._web.serve())
        try:
            processor = await self._processor_factory()
            self._consumer = await self._started_consumer()
            await self._consume(self._consumer, processor)
        except asyncio.CancelledError:
            if not self.stopping:
                raise
        finally:
            await self._close()
            self._web.should_exit = True
            await web

    def stop(self) -> None:
        """Finish the batch in flight, commit, leave the group. Before the consumer
        consumes (the broker away at start-up), there is nothing to finish."""
        self.stopping = True
        if self._consumer is None and self._task is not None:
            self._task.cancel()

    async def _started_consumer(self) -> AIOKafkaConsumer:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(KafkaError),
            wait=wait_exponential(multiplier=0.5, max=5),
            before_sleep=lambda state: log.warning(
                "the broker is not reachable yet (%s); trying again",
                type(state.outcome.exception()).__name__ if state.outcome else "?",
            ),
        ):
            with attempt:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    group_id=self.service,
                    client_id=f"{self.service}-worker",
                    enable_auto_commit=False,  # offsets are committed here, once applied
                    auto_offset_reset="earliest",  # a new group reads every event there is
                    fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                    max_poll_records=BATCH_MAX,
                    session_timeout_ms=SESSION_TIMEOUT_MS,
                    heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
                )
                consumer.subscribe(self._topics, listener=_Handover(self))
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()
                    raise
                return consumer
        raise AssertionError("unreachable: the retry above never gives up")

    async def _consume(self, consumer: AIOKafkaConsumer, processor: EventProcessor) -> None:
        committed_at = time.monotonic()
        while not self.stopping:
            handovers = self._handovers
            # What arrived while the last batch was applied; if that is something, a
            # little more (LINGER); if nothing, wait for the first to come.
            arrived = await self._fetch(consumer, 0, BATCH_MAX)
            room = BATCH_MAX - sum(map(len, arrived.values()))
            if arrived and room > 0 and LINGER > 0:
                await asyncio.sleep(LINGER)
                more = await self._fetch(consumer, 0, room)
                for tp, records in more.items():
                    arrived.setdefault(tp, []).extend(records)
            elif not arrived:
                arrived = await self._fetch(consumer, IDLE_WAIT_MS, BATCH_MAX)
            if arrived:
                await self._apply(consumer, processor, arrived, handovers)
            now = time.monotonic()
            if not arrived or now - committed_at >= COMMIT_INTERVAL:
                await self._commit(consumer)
                committed_at = now

    async def _fetch(self, consumer: AIOKafkaConsumer, wait_ms: int, most: int) -> Arrived:
        try:
            return await consumer.getmany(timeout_ms=wait_ms, max_records=most)
        except KafkaError as exc:  # one the consumer did not ride out itself (most it does)
            log.warning("fetching failed (%s); trying again", type(exc).__name__)
        # The retrying only here: on every round it would cost more than the fetch.
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(KafkaError),
            wait=wait_exponential(multiplier=0.2, max=5),
            before_sleep=lambda state: log.warning("fetching failed; trying again"),
        )
        arrived: Arrived = await retrying(consumer.getmany, timeout_ms=wait_ms, max_records=most)
        return arrived

    async def _apply(
        self,
        consumer: AIOKafkaConsumer,
        processor: EventProcessor,
        arrived: Arrived,
        handovers: int,
    ) -> None:
        async with self._applying:
            if handovers != self._handovers:
                # Fetched before a rebalance: a partition still ours is read again from
                # where it was left; one handed over is the other worker's now.
                owned = consumer.assignment()
                for tp, records in arrived.items():
                    if tp in owned and records:
                        consumer.seek(tp, records[0].offset)
                return
            records = [r for tp, rs in arrived.items() if tp not in self.held for r in rs]
            if not records:
                return
            began = time.perf_counter()
            try:
                outcomes = await processor.process_batch([RawMessage.of(r) for r in records])
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the process is going: nothing of the batch is committed
                self._hold(consumer, {tp for tp, rs in arrived.items() if rs})
                return
            for tp, rs in arrived.items():
                if rs and tp not in self.held:
                    self._offsets.done(tp, rs[-1].offset)
        # Its transaction, from decoding and the inbox claim to COMMIT (bench/worker_load.py).
        log.debug("batch of %d in %.2f ms", len(records), (time.perf_counter() - began) * 1000)
        for record, outcome in zip(records, outcomes, strict=True):
            # Per message, so at debug (off the hot path); a redelivery is rare and
            # worth seeing, so at info.
            if outcome.status == "duplicate" or log.isEnabledFor(logging.DEBUG):
                log.log(
                    logging.INFO if outcome.status == "duplicate" else logging.DEBUG,
                    "%s %s[%s]@%s -> %s",
                    outcome.event_type,
                    record.topic,
                    record.partition,
                    record.offset,
                    outcome.status,
                )

    def _hold(self, consumer: AIOKafkaConsumer, tps: set[TopicPartition]) -> None:
        self.held |= tps
        consumer.pause(*tps)
        log.error("a batch was cut off; %s wait for a restart", by_topic(tps))

    async def _commit(
        self, consumer: AIOKafkaConsumer, only: Collection[TopicPartition] = ()
    ) -> None:
        due = self._offsets.due(only or consumer.assignment())
        if not due:
            return
        try:
            await consumer.commit(due)
        except KafkaError as exc:
            # Kept due: the next round tries again; if the partition went elsewhere,
            # its new owner reads from the last commit and the inbox skips what was done.
            log.warning("committing offsets failed (%s); trying again", type(exc).__name__)
        else:
            self._offsets.committed(due)

    async def hand_over(self, revoked: Collection[TopicPartition]) -> None:
        """A rebalance begins: after the batch in flight, commit what was applied of
        the partitions going, and forget them."""
        async with self._applying:
            self._handovers += 1
            consumer = self._consumer
            if consumer is not None and revoked:
                await self._commit(consumer, revoked)
            self._offsets.forget(revoked)
            self.held -= set(revoked)  # whoever owns it next reads it from its commit

    async def _close(self) -> None:
        consumer = self._consumer
        try:
            if consumer is not None:
                await self._commit(consumer)
                await self._leave(consumer)
        finally:
            if self._on_stop is not None:
                await self._on_stop()

    @staticmethod
    async def _leave(consumer: AIOKafkaConsumer) -> None:
        """Stop the consumer, which leaves the group: its partitions move at once."""
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            # With the broker away, aiokafka's stop lets out the CancelledError of its
            # own fetch task's retry sleep. Only a cancellation of this task is ours to
            # pass on; the stop itself is done either way (nothing left to commit).
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.warning("the consumer stopped without reaching the broker")
        except KafkaError as exc:
            log.warning("the consumer stopped without reaching the broker (%s)", type(exc).__name__)

    # ------------------------------------------------------------- health, metrics

    def owned(self) -> dict[str, list[int]]:
        consumer = self._consumer
        return by_topic(consumer.assignment()) if consumer is not None else {}

    async def consumer_lag(self) -> dict[tuple[str, int], int]:
        """Per owned partition: the broker's end offset (from the last fetch) minus the
        group's committed offset (asked once, then kept)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lags: dict[tuple[str, int], int] = {}
        for tp in sorted(consumer.assignment()):
            end, done = consumer.highwater(tp), self._offsets.committed_at(tp)
            if done is None:
                try:
                    done = await consumer.committed(tp)
                except KafkaError:  # the broker away: no figure rather than a wrong one
                    return lags
                if done is not None:
                    self._offsets.committed({tp: done})
            if done is not None and end is not None:
                lags[(tp.topic, tp.partition)] = max(end - done, 0)
        return lags

    def web_app(self) -> FastAPI:
        app = FastAPI(
            title=f"{self.service} worker", docs_url=None, redoc_url=None, openapi_url=None
        )

        async def consumer() -> bool:
            return bool(self.owned()) and not self.held

        def details() -> dict[str, dict[str, list[int]]]:
            return {"partitions": self.owned(), "held": by_topic(self.held)}

        include(
            app,
            health_router(
                {"consumer": consumer, **self._ready_checks}, model=WorkerReady, details=details
            ),
        )

        @app.get("/metrics", response_class=Response)
        async def scrape() -> Response:
            metrics.consumer_lag(await self.consumer_lag())
            await metrics.refresh(self._readings)
            body, content_type = metrics.exposition()
            return Response(body, media_type=content_type)

        return app


class _Handover(ConsumerRebalanceListener):
    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._worker.hand_over(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("consuming %s", by_topic(assigned))


class _WebServer(uvicorn.Server):
    """uvicorn on the worker's loop: the worker, not uvicorn, handles the signals."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run(worker: Worker, grace: float | None = None) -> None:
    """Run a worker on uvloop until SIGTERM or SIGINT. The stop is bounded: a watchdog
    thread ends the process `grace` seconds after the signal if the stop has not (with
    the broker unreachable, the last commit and leaving the group wait for it; a
    Kubernetes rollout or a launcher would wait with them). Ending it there acknowledges
    nothing that was not applied: the batch in flight rolls back with its connection,
    and what was applied but not committed is delivered again and skipped by the inbox."""
    bound = stop_grace() if grace is None else grace

    def give_up() -> None:
        log.warning(
            "stop still waiting after %.0fs (the broker away?): exiting; what was not "
            "committed is delivered again",
            bound,
        )
        logging.shutdown()
        sys.stdout.flush()
        os._exit(FORCED_EXIT)

    def on_signal() -> None:
        if not worker.stopping:
            log.info("stopping after the batch in flight")
            watchdog = threading.Timer(bound, give_up)  # a thread: a stuck loop cannot hold it
            watchdog.daemon = True
            watchdog.start()
        worker.stop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        await worker.run()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def run_worker(settings: ServiceSettings, platform: Platform, bus: MessageBus[Any]) -> None:
    """The body of every service's `entrypoints/worker.py` main(). The worker reads
    exactly the topics that carry the events the bus has policies for."""
    configure_logging(settings.service)
    platform.write_inline()  # one batch at a time: no thread hop per statement
    configure_tracing(settings.service, "worker", platform.engines())

    async def processor() -> EventProcessor:
        await platform.migrate()
        return EventProcessor(
            settings.service,
            bus,
            DeadLetterPublisher(settings.service, settings.kafka_bootstrap_servers),
        )

    worker = Worker(
        settings.service,
        bus.subscribed_topics(),
        processor,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        web_port=settings.worker_web_port,
        web_bind=settings.http_host,  # 0.0.0.0 in a container, so the API can ask it
        ready_checks={"database": platform.database_ready, "broker": platform.broker_ready},
        on_stop=platform.dispose,
        readings=platform.readings,
    )
    freeze_built_objects()
    run(worker)
