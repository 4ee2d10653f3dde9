"""Faust entrypoint: one agent (concurrency 1) over a service's subscribed topics.

The agent hands every raw message to `EventProcessor.process`, which never
raises, so Faust acknowledges an offset only after the message was applied,
skipped or parked on the dead-letter topic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import faust

from shared_events.consumer import EventProcessor, RawMessage

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
