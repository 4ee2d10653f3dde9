"""The message bus: commands to their handler, consumed events to their policy,
internal events (never published) to their handlers after the commit.

The policy table, keyed by payload type, is the one dispatch of consumed events:
the consumer asks the bus which types it handles (and so which topics to read)
and hands it each decoded event; a policy is called as `policy(event, meta, uow)`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from service_kit import telemetry
from service_kit.inbox import apply_once
from service_kit.kernel import EventMeta
from service_kit.uow import Trace, UnitOfWork
from shared_events.contract import Payload
from shared_events.envelope import Envelope
from shared_events.registry import topic_for

log = logging.getLogger(__name__)

# A service's handlers take its own unit of work (with its repositories).
U = TypeVar("U", bound=UnitOfWork)

UowFactory = Callable[[Trace], U]
CommandHandler = Callable[[Any, U], Awaitable[Any]]
Policy = Callable[[Any, EventMeta, U], Awaitable[None]]
InternalHandler = Callable[[Any, U], Awaitable[None]]
Preload = Callable[[U, Sequence[Payload]], Awaitable[None]]


class MessageBus(Generic[U]):
    def __init__(
        self,
        uow_factory: UowFactory[U],
        *,
        commands: Mapping[type, CommandHandler[U]],
        policies: Mapping[type[Payload], Policy[U]] | None = None,
        internal: Mapping[type, Sequence[InternalHandler[U]]] | None = None,
        preload: Preload[U] | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._commands = dict(commands)
        self._policies = dict(policies or {})
        self._internal = {kind: list(handlers) for kind, handlers in (internal or {}).items()}
        self._handled_names = frozenset(model.event_type for model in self._policies)
        # Fetches ahead, in a few queries, the rows a batch's policies will `get`.
        self._preload = preload

    async def handle(self, command: Any, trace: Trace | None = None) -> Any:
        uow = self._uow_factory(trace or Trace())
        result = await self._commands[type(command)](command, uow)
        await self._after_commit(uow)
        return result

    def handled_event_types(self) -> tuple[type[Payload], ...]:
        """The consumed events this bus has a policy for."""
        return tuple(self._policies)

    def subscribed_topics(self) -> list[str]:
        """Exactly the topics that carry the handled events: what a worker reads."""
        return sorted({topic_for(model.event_type) for model in self._policies})

    def handles(self, event: Payload) -> bool:
        return type(event) in self._policies

    def handles_type(self, event_type: str) -> bool:
        """From a message's `event_type` header, before anything is decoded."""
        return event_type in self._handled_names

    async def handle_batch(self, items: Sequence[tuple[Envelope, Payload]]) -> list[bool]:
        """Apply consumed events in order in ONE unit of work, each with its inbox row,
        and commit once; per event False when it was a redelivery. If any policy
        raises, nothing of the batch is committed (the caller then goes one by one)."""
        uow = self._uow_factory(Trace())
        applied: list[bool] = []
        async with uow:
            # One query for the inbox, one per repository (`preload`), one insert of
            # the inbox rows: not one of each per event.
            done = await uow.inbox.seen_among([envelope for envelope, _ in items])
            if self._preload is not None:
                await self._preload(
                    uow, [event for envelope, event in items if str(envelope.event_id) not in done]
                )
            fresh: list[Envelope] = []
            for envelope, event in items:
                event_id = str(envelope.event_id)
                if event_id in done:  # applied before, or earlier in this batch
                    applied.append(False)
                    continue
                done.add(event_id)
                meta = EventMeta.of(envelope)
                uow.trace = Trace.caused_by(meta)
                await self._policies[type(event)](event, meta, uow)
                fresh.append(envelope)
                uow.checkpoint()
                applied.append(True)
            await uow.inbox.record_all(fresh)
            await uow.commit()
        await self._after_commit(uow)
        return applied

    async def handle_event(self, envelope: Envelope, event: Payload) -> bool:
        """Apply a consumed event once; False when it was a redelivery."""
        policy = self._policies[type(event)]
        meta = EventMeta.of(envelope)
        name = getattr(policy, "__name__", type(policy).__name__)
        with telemetry.span(f"policy {name}", event_type=envelope.event_type):
            uow = self._uow_factory(Trace.caused_by(meta))
            applied = await apply_once(uow, envelope, lambda: policy(event, meta, uow))
            await self._after_commit(uow)
        return applied

    async def _after_commit(self, uow: U) -> None:
        queue = list(uow.internal_events)
        uow.internal_events.clear()
        while queue:
            event = queue.pop(0)
            for handler in self._internal.get(type(event), []):
                follow_up = self._uow_factory(uow.trace)
                await handler(event, follow_up)
                queue.extend(follow_up.internal_events)


def waking(
    event_type: type, wake: Callable[[], None] | None
) -> dict[type, list[InternalHandler[Any]]]:
    """The `internal` table that wakes an in-process loop (a dispatcher, a timer) after
    each commit that raised `event_type`, instead of at its next look; empty without
    `wake` (the worker process runs no such loop)."""
    if wake is None:
        return {}
    woken = wake  # bound, so the handler sees it is not None

    async def handler(event: Any, uow: UnitOfWork) -> None:
        woken()

    return {event_type: [handler]}
