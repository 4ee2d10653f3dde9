"""The status page's live feed: `GET /mypage/orders/{order_id}/stream` as Server-Sent
Events.

Design: a bounded poll of the database, not process memory, so any replica serves any
stream and a change written by the worker (another process) is seen. Every `poll_s` a
stream reads one small row: the order's optimistic `version` (bumped by every update of
its status row) and its number of timeline entries (a late, earlier entry may arrive
without touching the row). That pair is the event `id`: a reconnect sends it back as
`Last-Event-ID`, and the stream sends the view again only if the order changed since.
A stream lives at most `max_s` and then ends; the browser reconnects with its last id,
so a replica can be drained and no connection lives forever. Heartbeats (SSE comments)
keep proxies from closing a quiet stream.

LISTEN/NOTIFY would push instead of poll, but only on PostgreSQL; the poll works on
SQLite as well, and costs one primary-key read per open status page per `poll_s`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sse_starlette import ServerSentEvent

from mypage_service import views
from service_kit.reads import Reads


@dataclass(frozen=True)
class StreamSettings:
    poll_s: float = 0.25
    max_s: float = 300.0
    heartbeat_s: float = 15.0

    @classmethod
    def from_env(cls) -> StreamSettings:
        return cls(
            poll_s=float(os.environ.get("MYPAGE_STREAM_POLL_S", cls.poll_s)),
            max_s=float(os.environ.get("MYPAGE_STREAM_MAX_S", cls.max_s)),
            heartbeat_s=float(os.environ.get("MYPAGE_STREAM_HEARTBEAT_S", cls.heartbeat_s)),
        )


async def order_events(
    reads: Reads,
    order_id: str,
    last_event_id: str | None,
    settings: StreamSettings,
) -> AsyncIterator[ServerSentEvent]:
    """The order's view now (unless the client already has this version), then once
    per change, until `max_s` has passed."""
    deadline = time.monotonic() + settings.max_s
    sent = last_event_id
    while True:
        signature = await reads(views.order_signature, order_id)
        if signature is not None and signature != sent:
            view = await reads(views.order, order_id)
            if view is not None:
                sent = signature
                yield ServerSentEvent(data=json.dumps(view), event="order", id=signature)
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(settings.poll_s)  # the bounded poll (see above)
