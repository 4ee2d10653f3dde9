"""Faust entrypoint: one agent (concurrency 1) over a service's subscribed topics.

The agent takes the messages in batches and hands each batch to
`EventProcessor.process_batch` (one transaction for the batch, one by one if it
fails), which never raises, and acknowledges their offsets only after each was
applied, skipped or parked on the dead-letter topic: never for a batch cut off
mid-way. Faust commits the acknowledged offsets every COMMIT_INTERVAL. On SIGTERM
Faust waits for the batch in flight, commits, then stops; whatever the broker does,
the process is gone within WORKER_STOP_GRACE_S (BoundedWorker).

The worker serves `/health/live` and `/health/ready` on its web port: ready when its
consumer owns partitions and its database and the broker answer (runtime.py has
the health design; the API's readiness asks this one).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import faust
from faust.types import TP, EventT, Message
from faust.web import Request, Response, View

from service_kit import metrics
from service_kit.consumer import DeadLetterPublisher, EventProcessor, RawMessage
from service_kit.messagebus import MessageBus
from service_kit.runtime import (
    Check,
    Platform,
    configure_logging,
    freeze_built_objects,
    logging_config,
    run_checks,
)
from service_kit.settings import ServiceSettings
from service_kit.telemetry import configure_tracing

log = logging.getLogger(__name__)

# A batch is what arrived while the previous one was applied, up to BATCH_MAX.
BATCH_MAX = int(os.environ.get("CONSUMER_BATCH_MAX", "200"))
# Offsets are committed by Faust's commit loop every COMMIT_INTERVAL, each commit
# covering every batch acknowledged since, rather than one OffsetCommit round trip per
# batch (at light load a batch is one event). A message is acknowledged only after its
# batch committed, so a crash redelivers at most that much, and the inbox skips it.
# A second, not 200 ms: each commit is a round trip through the consumer's thread and
# the broker, and the loop (with Faust's livelock check at 2.5x) ticks idle too.
COMMIT_INTERVAL = float(os.environ.get("CONSUMER_COMMIT_INTERVAL_MS", "1000")) / 1000
# Busy (more arrived while the previous batch was applied), a batch waits this long
# for more, so its fixed costs (transaction, preload, wake) spread over more events;
# idle, the first event goes at once.
LINGER = float(os.environ.get("CONSUMER_LINGER_MS", "5")) / 1000


class _App(faust.App):
    """A Faust app without the Monitor sensor."""

    def on_init_dependencies(self) -> Iterable[Any]:
        services = super().on_init_dependencies()
        # Faust's Monitor keeps per-event statistics for its own web views, which are
        # not served (the worker's /metrics are the chassis's): unhooked, no event
        # pays for its sensor calls and the idle worker for its sampler's every second.
        self.sensors.remove(self.monitor)
        return services


def create_worker_app(
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
) -> faust.App:
    app = _App(
        service,  # the consumer group
        broker=f"kafka://{bootstrap_servers}",
        store="memory://",
        topic_partitions=3,
        topic_allow_declare=False,  # topics belong to infra, never created here
        web_port=web_port,
        web_bind=web_bind,
        web_enabled=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=BATCH_MAX,
        broker_commit_interval=COMMIT_INTERVAL,
        stream_wait_empty=True,  # on stop, let the in-flight message finish
        producer_acks=-1,
    )
    channel = app.topic(*topics, value_serializer="raw", key_serializer="raw")
    state: dict[str, EventProcessor] = {}
    # Partitions where a handler was cut off mid-way (its task cancelled). Faust
    # commits past one unacknowledged offset once a later one is acknowledged, so
    # nothing more of such a partition is acknowledged, nor applied (that would
    # overtake the cut-off event of the same order), until a restart redelivers it.
    held: set[TP] = set()

    @app.agent(channel, concurrency=1, name=f"{service}.policies")
    async def policies(stream: faust.StreamT[Any]) -> None:
        assert isinstance(stream, faust.Stream)  # what an agent is given; it has noack_take()
        if "processor" not in state:
            state["processor"] = await processor_factory()
            _ack_current_generation_only(app)
        processor = state["processor"]
        # Batches of what already arrived (up to BATCH_MAX), applied in one transaction.
        # Acks are ours: `arrivals` never acks, so a batch cut off mid-way is never
        # committed.
        async for events in arrivals(stream, BATCH_MAX):
            batch = []
            for event in events:
                message = event.message
                if message.tp in held:
                    app.consumer.unacked.discard(message)  # untracked: a stop must not wait
                else:
                    batch.append(event)
            if not batch:
                continue
            began = time.perf_counter()
            try:
                outcomes = await processor.process_batch([RawMessage.of(e.message) for e in batch])
            except asyncio.CancelledError:
                for event in batch:
                    held.add(event.message.tp)
                    app.consumer.unacked.discard(event.message)
                log.error("a batch of %d cut off; its partitions wait for a restart", len(batch))
                raise
            # Its transaction, from decoding and the inbox claim to COMMIT (bench/worker_load.py).
            log.debug("batch of %d in %.2f ms", len(batch), (time.perf_counter() - began) * 1000)
            for event, outcome in zip(batch, outcomes, strict=True):
                # Per message, so at debug (off the hot path); a redelivery is rare and
                # worth seeing, so at info.
                log.log(
                    logging.INFO if outcome.status == "duplicate" else logging.DEBUG,
                    "%s %s[%s]@%s -> %s",
                    outcome.event_type,
                    *_at(event.message),
                    outcome.status,
                )
                await stream.ack(event)  # applied, skipped or parked: now it may be committed

    _health_views(app, ready_checks or {}, held)
    _metrics_view(app, readings or {})

    if on_stop is not None:
        close = on_stop

        @app.service
        class _Closer(faust.Service):
            async def on_stop(self) -> None:
                await close()

    return app


async def arrivals(stream: faust.Stream[Any], most: int) -> AsyncIterator[list[EventT]]:
    """The stream's events in batches of what has arrived, without acknowledging them:
    the first one as soon as it comes, with whatever came while the previous batch was
    applied (up to `most`), and, when that was something, what comes within LINGER.
    Faust's `noack_take` instead waits `within` for more after every batch, which
    delays a lone event by that much and, idle, wakes the worker every `within` (2-3%
    of a core per worker at 10 ms). Built like `noack_take`: a
    processor of the stream fills the buffer while the stream is drained passively."""
    buffer: list[EventT] = []
    arrived = asyncio.Event()
    room = asyncio.Event()
    room.set()

    async def add(value: Any) -> Any:
        event = stream.current_event
        if event is None:
            raise RuntimeError("a stream value without its event")
        buffer.append(event)
        arrived.set()
        if len(buffer) >= most:  # full: the drainer waits until the batch is taken
            room.clear()
            await stream.wait(room)  # type: ignore[arg-type]
        return value

    acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add)
    stream._enable_passive(cast(faust.ChannelT, aiter(stream.channel)))
    # The stream's stop (or crash) wakes the loop too: one watcher for the stream's
    # life, where mode's `wait_for_stopped(arrived)` makes four tasks for every batch.
    stopped = asyncio.ensure_future(stream.wait_for_stopped())
    stopped.add_done_callback(lambda _: arrived.set())
    busy = False
    try:
        while not (stream.should_stop or stopped.done()):
            await arrived.wait()
            if busy and len(buffer) < most and LINGER > 0:
                await asyncio.sleep(LINGER)  # a batch gathers while busy (see LINGER)
            if buffer:
                taken = buffer[:]
                buffer.clear()
                arrived.clear()
                room.set()
                yield taken
                busy = bool(buffer)  # more came while it was applied
    finally:
        stopped.cancel()
        stream.enable_acks = acks
        stream._processors.remove(add)


def assigned_partitions(app: faust.App) -> dict[str, list[int]]:
    """The partitions this worker's consumer owns, by topic; none while it rebalances."""
    try:
        assignment = app.consumer.assignment()
    except Exception:  # not started yet
        return {}
    if app.rebalancing:
        return {}
    return _by_topic(assignment)


def _by_topic(tps: Iterable[TP]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for tp in sorted(tps):
        found.setdefault(tp.topic, []).append(tp.partition)
    return found


def _health_views(app: faust.App, ready_checks: Mapping[str, Check], held: set[TP]) -> None:
    @app.page("/health/live")
    async def live(view: View, request: Request) -> Response:
        return view.json({"status": "ok"})

    @app.page("/health/ready")
    async def ready(view: View, request: Request) -> Response:
        partitions = assigned_partitions(app)

        async def consumer() -> bool:
            return bool(partitions) and not held

        results = await run_checks({"consumer": consumer, **ready_checks})
        ok = all(results.values())
        return view.json(
            {
                "status": "ok" if ok else "unavailable",
                "checks": results,
                "partitions": partitions,
                "held": _by_topic(held),
            },
            status=200 if ok else 503,
        )


def _metrics_view(app: faust.App, readings: Mapping[metrics.Gauge, metrics.Reading]) -> None:
    """`/metrics` on the worker's web port: the consumer's counts, its lag per owned
    partition, and the process's own gauges (its database pool)."""

    @app.page("/metrics")
    async def scrape(view: View, request: Request) -> Response:
        metrics.consumer_lag(await consumer_lag(app))
        await metrics.refresh(readings)
        body, content_type = metrics.exposition()
        # aiohttp refuses a charset inside content_type=; as a header it passes whole.
        return view.bytes(body, headers={"Content-Type": content_type})


async def consumer_lag(app: faust.App) -> dict[tuple[str, int], int]:
    """Per owned partition: the broker's end offset minus the group's committed offset
    (Faust keeps the latter from the assignment on; a partition without one yet, never
    committed by the group, is left out)."""
    try:
        owned = sorted(app.consumer.assignment())
        ends = await app.consumer.highwaters(*owned) if owned else {}
    except Exception:  # not started yet, or the broker away: no figure rather than a wrong one
        return {}
    committed = getattr(app.consumer, "_committed_offset", {})
    lags: dict[tuple[str, int], int] = {}
    for tp in owned:
        done, end = committed.get(tp), ends.get(tp)
        if done is not None and end is not None:
            lags[(tp.topic, tp.partition)] = max(end - done, 0)
    return lags


def _ack_current_generation_only(app: faust.App) -> None:
    """After a rebalance Faust skips the messages of the old generation still in its
    buffers, and acks them though nothing applied them: it seeks back to the committed
    offset and fetches them again. A commit before they are applied again would move
    the group's offset past them, and a kill in that window loses them. So an ack of
    an old generation's message is ignored here: only the copy fetched again, once
    applied, makes its offset committable."""
    consumer = app.consumer
    ack = consumer.ack

    def current_only(message: Message) -> bool:
        generation = message.generation_id
        if generation is not None and generation != app.consumer_generation_id:
            return False
        return ack(message)

    consumer.ack = current_only  # type: ignore[method-assign]


def _at(message: Message) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset


STOP_GRACE_S = 15.0
FORCED_EXIT = 3  # the exit status of a stop that outlived its grace period


class BoundedWorker(faust.Worker):
    """A Faust worker whose stop is bounded: a SIGTERM (or Ctrl-C) starts a watchdog
    that ends the process after `grace` seconds if Faust's own stop has not. Faust
    waits for its streams and a last offset commit, and with the broker unreachable
    it waits forever; a Kubernetes rollout or a launcher would wait with it.

    Ending it there acknowledges nothing that was not applied: an offset is committed
    only after its unit of work committed, so the message in flight (its transaction
    rolled back with the connection) and any applied but unacknowledged ones are
    simply delivered again, and the inbox skips what was applied."""

    def __init__(self, *args: Any, grace: float = STOP_GRACE_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._grace = grace

    def _schedule_shutdown(self, sig: signal.Signals) -> None:
        if not self._signal_stop_time:
            # A thread, so a stop stuck inside the event loop cannot hold it up.
            watchdog = threading.Timer(self._grace, self._give_up)
            watchdog.daemon = True
            watchdog.start()
        super()._schedule_shutdown(sig)

    def _give_up(self) -> None:
        log.warning(
            "stop still waiting after %.0fs (the broker away?): exiting; what was not "
            "acknowledged is delivered again",
            self._grace,
        )
        logging.shutdown()
        sys.stdout.flush()
        os._exit(FORCED_EXIT)


def stop_grace() -> float:
    return float(os.environ.get("WORKER_STOP_GRACE_S", STOP_GRACE_S))


def run_worker(
    settings: ServiceSettings,
    platform: Platform,
    bus: MessageBus[Any],
) -> None:
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

    app = create_worker_app(
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
    # The worker installs the signal handlers: SIGTERM stops after the message in
    # flight, within the grace period.
    loglevel = os.environ.get("LOG_LEVEL", "info").lower()
    freeze_built_objects()
    # Faust sets logging up anew when it starts: with the chassis's one setup.
    BoundedWorker(
        app,
        loglevel=loglevel,
        logging_config=logging_config(settings.service),
        grace=stop_grace(),
    ).execute_from_commandline()
