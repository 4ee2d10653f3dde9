"""The status page's live feed: `GET /mypage/orders/{order_id}/stream` as Server-Sent
Events.

Design: pushed, with the database as the truth. The worker's commit names the orders
it changed (`service_kit.wake`: a datagram to the API on SQLite, `NOTIFY` on
PostgreSQL, which every API replica hears), and the API process's one `StreamHub`
wakes the streams subscribed to those orders, so one commit re-reads only its own
orders' streams and an idle page costs nothing. Woken, a stream reads one small row:
the order's optimistic `version` (bumped by every update of its status row) and its
number of timeline entries (a late, earlier entry may arrive without touching the
row). That pair is the event `id`: a reconnect sends it back as `Last-Event-ID`, and
the stream sends the view again only if the order changed since, read in the same
transaction (`views.order_since`), and the streams one commit woke together read in
one transaction of them all (`StreamHub.read`). Any replica serves
any stream, since what it sends is always read from the database.

A wake may be lost (a datagram dropped, the API's listening connection reconnecting):
a stream reads once when it subscribes and then every `poll_s` (seconds, the slow
safety re-read) without a wake, so a lost wake delays a page, never leaves it stale.
A stream lives at most `max_s` and then ends; the browser reconnects with its last
id, so a replica can be drained and no connection lives forever. Heartbeats (SSE
comments) keep proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent

from mypage_service import views
from service_kit.reads import Reads

# An order's signature, and its view when it changed since the one asked about.
Signed = tuple[str | None, dict[str, Any] | None]


@dataclass(frozen=True)
class StreamSettings:
    poll_s: float = 5.0  # the safety re-read when no wake came
    max_s: float = 300.0
    heartbeat_s: float = 15.0

    @classmethod
    def from_env(cls) -> StreamSettings:
        return cls(
            poll_s=float(os.environ.get("MYPAGE_STREAM_POLL_S", cls.poll_s)),
            max_s=float(os.environ.get("MYPAGE_STREAM_MAX_S", cls.max_s)),
            heartbeat_s=float(os.environ.get("MYPAGE_STREAM_HEARTBEAT_S", cls.heartbeat_s)),
        )


class StreamHub:
    """The open streams of one API process by order id; `changed` wakes those of the
    orders a commit changed. Everything runs on the event loop: no locks."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Event]] = {}
        # The reads asked for in this turn of the loop, read together at its end.
        self._asked: list[tuple[str, str | None, asyncio.Future[Signed]]] = []
        self._reading: set[asyncio.Task[None]] = set()

    @contextmanager
    def subscribe(self, order_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the order changes, until the block is left (the
        client gone): then the order is forgotten with its last stream."""
        woken = asyncio.Event()
        self._streams.setdefault(order_id, set()).add(woken)
        try:
            yield woken
        finally:
            streams = self._streams[order_id]
            streams.discard(woken)
            if not streams:
                del self._streams[order_id]

    def changed(self, order_ids: Iterable[str]) -> None:
        for order_id in order_ids:
            for woken in self._streams.get(order_id, ()):
                woken.set()

    async def read(self, reads: Reads, order_id: str, since: str | None) -> Signed:
        """`views.order_since`, read together with the other streams' reads asked for
        in the same turn of the event loop (the streams one commit woke): one
        transaction and one thread hop for them all instead of one each."""
        future: asyncio.Future[Signed] = asyncio.get_running_loop().create_future()
        self._asked.append((order_id, since, future))
        if len(self._asked) == 1:  # the first to ask reads for all (held till done)
            reading = asyncio.ensure_future(self._read_asked(reads))
            self._reading.add(reading)
            reading.add_done_callback(self._reading.discard)
        return await future

    async def _read_asked(self, reads: Reads) -> None:
        await asyncio.sleep(0)  # the others woken in this turn ask meanwhile
        asked, self._asked = self._asked, []
        try:
            found = await reads(views.orders_since, [(o, s) for o, s, _ in asked])
        except asyncio.CancelledError:
            for _, _, future in asked:
                future.cancel()
            raise
        except Exception as exc:
            for _, _, future in asked:
                if not future.done():  # a stream gone meanwhile is done (cancelled)
                    future.set_exception(exc)
            return
        for (_, _, future), signed in zip(asked, found, strict=True):
            if not future.done():
                future.set_result(signed)

    def __len__(self) -> int:
        """How many orders have an open stream here."""
        return len(self._streams)


async def order_events(
    reads: Reads,
    hub: StreamHub,
    order_id: str,
    last_event_id: str | None,
    settings: StreamSettings,
) -> AsyncIterator[ServerSentEvent]:
    """The order's view now (unless the client already has this version), then once
    per change, until `max_s` has passed."""
    deadline = time.monotonic() + settings.max_s
    sent = last_event_id
    # Subscribed before the first read, so a change committed meanwhile wakes it.
    with hub.subscribe(order_id) as woken:
        while True:
            woken.clear()  # before the read: a wake during it makes one more pass
            signature, view = await hub.read(reads, order_id, sent)
            if signature is not None and view is not None:
                sent = signature
                yield ServerSentEvent(data=json.dumps(view), event="order", id=signature)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # No wake: the safety re-read (see above). A timeout scope, not wait_for:
            # no task made per wait.
            with suppress(TimeoutError):
                async with asyncio.timeout(min(settings.poll_s, left)):
                    await woken.wait()
