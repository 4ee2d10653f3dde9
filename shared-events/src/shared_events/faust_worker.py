"""Faust entrypoint: one agent (concurrency 1) over a service's subscribed topics.

The agent hands every raw message to `EventProcessor.process`, which never
raises, so Faust acknowledges an offset only after the message was applied,
skipped or parked on the dead-letter topic.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence

import faust

from shared_events.consumer import DeadLetterPublisher, EventProcessor, RawMessage
from shared_events.messagebus import MessageBus
from shared_events.runtime import Platform, configure_logging
from shared_events.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_worker_app(
    service: str,
    topics: Sequence[str],
    processor_factory: Callable[[], Awaitable[EventProcessor]],
    *,
    bootstrap_servers: str,
    web_port: int,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> faust.App:
    app = faust.App(
        service,  # the consumer group
        broker=f"kafka://{bootstrap_servers}",
        store="memory://",
        topic_partitions=3,
        topic_allow_declare=False,  # topics belong to infra, never created here
        web_port=web_port,
        web_bind="127.0.0.1",
        web_enabled=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1,  # commit right after each acknowledged message
        stream_wait_empty=True,  # on stop, let the in-flight message finish
        producer_acks=-1,
    )
    channel = app.topic(*topics, value_serializer="raw", key_serializer="raw")
    state: dict[str, EventProcessor] = {}

    @app.agent(channel, concurrency=1, name=f"{service}.policies")
    async def policies(stream: faust.StreamT) -> None:
        if "processor" not in state:
            state["processor"] = await processor_factory()
        processor = state["processor"]
        async for event in stream.events():
            message = event.message
            outcome = await processor.process(
                RawMessage(
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    value=message.value,
                    headers=_headers(message.headers),
                )
            )
            log.info(
                "%s %s[%s]@%s -> %s",
                outcome.event_type or "?",
                message.topic,
                message.partition,
                message.offset,
                outcome.status,
            )

    if on_stop is not None:

        @app.service
        class _Closer(faust.Service):  # type: ignore[misc]
            async def on_stop(self) -> None:
                await on_stop()

    return app


def _headers(raw: object) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in items)  # type: ignore[union-attr]


def run_worker(
    settings: ServiceSettings,
    platform: Platform,
    bus: MessageBus,
    topics: Sequence[str],
) -> None:
    """The body of every service's `entrypoints/worker.py` main()."""
    configure_logging(settings.service)

    async def processor() -> EventProcessor:
        await platform.migrate()
        return EventProcessor(
            settings.service,
            bus.event_handlers(),
            DeadLetterPublisher(settings.service, settings.kafka_bootstrap_servers),
        )

    app = create_worker_app(
        settings.service,
        topics,
        processor,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        web_port=settings.worker_web_port,
        on_stop=platform.dispose,
    )
    # faust.Worker installs the signal handlers: SIGTERM stops after the message in flight.
    loglevel = os.environ.get("LOG_LEVEL", "info").lower()
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()
