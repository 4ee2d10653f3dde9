"""The message bus: commands to their handler, consumed events to their policy,
internal events (never published) to their handlers after the commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from service_kit.inbox import apply_once
from service_kit.uow import Trace, UnitOfWork
from shared_events.contract import Payload
from shared_events.envelope import Envelope

log = logging.getLogger(__name__)

UowFactory = Callable[[Trace], UnitOfWork]
CommandHandler = Callable[[Any, UnitOfWork], Awaitable[Any]]
Policy = Callable[[Any, UnitOfWork], Awaitable[None]]


class MessageBus:
    def __init__(
        self,
        uow_factory: UowFactory,
        *,
        commands: Mapping[type, CommandHandler],
        policies: Mapping[type[Payload], Policy] | None = None,
        internal: Mapping[type, list[Policy]] | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._commands = dict(commands)
        self._policies = dict(policies or {})
        self._internal = dict(internal or {})

    async def handle(self, command: Any, trace: Trace | None = None) -> Any:
        uow = self._uow_factory(trace or Trace())
        result = await self._commands[type(command)](command, uow)
        await self._after_commit(uow)
        return result

    async def handle_event(self, envelope: Envelope, event: Payload) -> bool:
        """Apply a consumed event once; False when it was a redelivery."""
        policy = self._policies[type(event)]
        uow = self._uow_factory(Trace.caused_by(envelope))
        applied = await apply_once(uow, envelope, lambda: policy(event, uow))
        await self._after_commit(uow)
        return applied

    def handled_event_types(self) -> tuple[type[Payload], ...]:
        """The consumed event types this bus has a policy for (its subscriptions)."""
        return tuple(self._policies)

    def event_handlers(self) -> dict[str, Callable[[Envelope, Any], Awaitable[Any]]]:
        """The consumer's dispatch table: event_type -> handler."""
        return {model.event_type: self.handle_event for model in self._policies}

    async def _after_commit(self, uow: UnitOfWork) -> None:
        queue = list(uow.internal_events)
        uow.internal_events.clear()
        while queue:
            event = queue.pop(0)
            for handler in self._internal.get(type(event), []):
                follow_up = self._uow_factory(uow.trace)
                await handler(event, follow_up)
                queue.extend(follow_up.internal_events)
