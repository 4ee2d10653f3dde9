"""The consuming side: decode, dispatch, retry with backoff, then dead-letter.

`EventProcessor.process` is the whole contract of a consumer and never raises:
a message is either applied (its handler committed), skipped (a type this
consumer does not react to), or parked on the consumer's dead-letter topic with
the error and its origin. Only then may the caller acknowledge the offset.
The worker (`worker.py`) and the read-model rebuild both drive it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from service_kit import metrics, telemetry
from service_kit.outbox import LazyProducer, make_producer
from service_kit.redaction import describe
from shared_events.contract import Payload
from shared_events.envelope import ContractError, Envelope, decode, utcnow
from shared_events.topics import dead_letter_topic

log = logging.getLogger(__name__)


class EventDispatch(Protocol):
    """The consumer's side of the message bus: which events it reacts to, and
    applying one (False when its inbox had seen it already)."""

    def handles(self, event: Payload) -> bool: ...

    def handles_type(self, event_type: str) -> bool: ...

    async def handle_event(self, envelope: Envelope, event: Payload) -> bool: ...

    async def handle_batch(self, items: Sequence[tuple[Envelope, Payload]]) -> list[bool]: ...


class DeadLetters(Protocol):
    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None: ...


@dataclass(frozen=True)
class RawMessage:
    """A message as it came off the broker, before anything is trusted."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)

    @classmethod
    def of(cls, record: Any) -> RawMessage:
        """From what aiokafka hands out (a `ConsumerRecord`)."""
        raw = record.headers
        items = raw.items() if isinstance(raw, Mapping) else (raw or ())
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple((str(k), bytes(v) if v is not None else b"") for k, v in items),
        )


@dataclass(frozen=True)
class Outcome:
    status: str  # "applied" | "duplicate" | "skipped" | "dead-lettered"
    event_type: str | None = None
    error: str | None = None
    retries: int = 0  # failed attempts of the handler before this outcome


class DeadLetterPublisher:
    """Parks a message on the consumer's dead-letter topic; retries until the broker
    takes it, because acknowledging an unparked failure would lose the message."""

    def __init__(self, consumer: str, bootstrap_servers: str) -> None:
        self.topic = dead_letter_topic(consumer)
        self._consumer = consumer
        self._producer = LazyProducer(lambda: make_producer(bootstrap_servers, f"{consumer}-dlq"))

    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None:
        headers = [
            *[(k, v) for k, v in message.headers if not k.startswith("dlq.")],
            ("dlq.consumer", self._consumer.encode()),
            ("dlq.origin_topic", message.topic.encode()),
            ("dlq.origin_partition", str(message.partition).encode()),
            ("dlq.origin_offset", str(message.offset).encode()),
            ("dlq.error_type", type(error).__name__.encode()),
            ("dlq.error", describe(error).encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.failed_at", utcnow().isoformat().encode()),
        ]
        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5)):
            with attempt:
                try:
                    producer = await self._producer.get()
                    await producer.send_and_wait(
                        self.topic, value=message.value, key=message.key, headers=headers
                    )
                except Exception:
                    log.warning("dead-letter publish failed; retrying", exc_info=True)
                    await self.close()
                    raise

    async def close(self) -> None:
        await self._producer.close()


class EventProcessor:
    """Hands each event the bus handles to it, with bounded retries."""

    def __init__(
        self,
        consumer: str,
        dispatch: EventDispatch,
        dead_letters: DeadLetters,
        *,
        attempts: int = 5,
        backoff_max: float = 2.0,
        backoff_multiplier: float = 0.1,
    ) -> None:
        self.consumer = consumer
        self._dispatch = dispatch
        self._dead_letters = dead_letters
        self._attempts = attempts
        self._backoff_max = backoff_max
        self._backoff_multiplier = backoff_multiplier

    async def process(
        self, message: RawMessage, decoded: tuple[Envelope, Payload] | None = None
    ) -> Outcome:
        """One message (`decoded` when its batch decoded it already)."""
        with telemetry.consuming(self.consumer, message.topic, message.partition, message.headers):
            outcome = await self._guarded(message, decoded)
        metrics.event_outcome(outcome.status, outcome.event_type, outcome.retries)
        return outcome

    async def _guarded(
        self, message: RawMessage, decoded: tuple[Envelope, Payload] | None
    ) -> Outcome:
        try:
            return await self._process(message, decoded)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the last line of defence: park, never raise
            log.exception("%s: unexpected failure at %s", self.consumer, _origin(message))
            await self._dead_letters.park(message, exc, attempts=1)
            return Outcome("dead-lettered", error=describe(exc))

    async def process_batch(self, messages: Sequence[RawMessage]) -> list[Outcome]:
        """Process messages in order, as `process` would one by one, but apply all the
        handled ones in one transaction (one commit, their inbox rows with it). A type
        the consumer does not handle is skipped from its `event_type` header, undecoded.
        If the batch's transaction fails, nothing of it was committed and every message
        goes through `process` one by one: the failing one is retried and parked as
        always, the others applied exactly once. Never raises (but for cancellation)."""
        outcomes: list[Outcome | None] = [None] * len(messages)
        batch: list[tuple[int, Envelope, Payload]] = []
        for i, message in enumerate(messages):
            kind = _header(message, "event_type")
            if kind is not None and not self._dispatch.handles_type(kind):
                outcomes[i] = Outcome("skipped", kind)
                continue
            try:
                envelope, event = decode(message.value)
            except ContractError:
                # Parked in its place: what came before it is applied (or parked) first.
                await self._apply(messages, batch, outcomes)
                batch = []
                outcomes[i] = await self.process(message)
                continue
            if not self._dispatch.handles(event):
                outcomes[i] = Outcome("skipped", envelope.event_type)
                continue
            batch.append((i, envelope, event))
        await self._apply(messages, batch, outcomes)
        return [o for o in outcomes if o is not None]

    async def _apply(
        self,
        messages: Sequence[RawMessage],
        batch: list[tuple[int, Envelope, Payload]],
        outcomes: list[Outcome | None],
    ) -> None:
        if len(batch) == 1:
            i, envelope, event = batch[0]
            outcomes[i] = await self.process(messages[i], (envelope, event))
        elif batch:
            try:
                applied = await self._dispatch.handle_batch([(e, ev) for _, e, ev in batch])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "%s: a batch of %d failed (%s); applying it one by one",
                    self.consumer,
                    len(batch),
                    describe(exc),
                )
                for i, _, _ in batch:
                    outcomes[i] = await self.process(messages[i])
            else:
                for (i, envelope, _), done in zip(batch, applied, strict=True):
                    outcome = Outcome("applied" if done else "duplicate", envelope.event_type)
                    metrics.event_outcome(outcome.status, outcome.event_type, 0)
                    outcomes[i] = outcome

    async def _process(
        self, message: RawMessage, decoded: tuple[Envelope, Payload] | None = None
    ) -> Outcome:
        try:
            envelope, event = decoded or decode(message.value)
        except ContractError as exc:
            # A message that breaks the contract fails the same way every time.
            log.error("%s: parked %s: %s", self.consumer, _origin(message), exc)
            await self._dead_letters.park(message, exc, attempts=1)
            return Outcome("dead-lettered", error=str(exc))

        if not self._dispatch.handles(event):
            return Outcome("skipped", envelope.event_type)

        attempts = 0
        applied = True
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=self._backoff_multiplier, max=self._backoff_max),
                retry=retry_if_exception_type(Exception),
                reraise=True,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    applied = await self._dispatch.handle_event(envelope, event)
        except Exception as exc:
            log.error(
                "%s: %s %s failed %d times, parked: %s",
                self.consumer,
                envelope.event_type,
                envelope.event_id,
                attempts,
                describe(exc),
            )
            await self._dead_letters.park(message, exc, attempts=attempts)
            return Outcome("dead-lettered", envelope.event_type, describe(exc), attempts - 1)
        # The bus returns False for an event its inbox had already seen.
        status = "duplicate" if applied is False else "applied"
        return Outcome(status, envelope.event_type, retries=attempts - 1)


def _header(message: RawMessage, name: str) -> str | None:
    for key, value in message.headers:
        if key == name:
            return value.decode(errors="replace")
    return None


def _origin(message: RawMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"
