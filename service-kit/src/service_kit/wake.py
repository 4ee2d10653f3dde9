"""Waking the API process when the worker committed: its outbox relay when the commit
staged events, its live views (mypage's status page streams) when it changed rows
they show.

The relay runs in the API process only (one relay per database, so every row is
published exactly once), and the live views are served there, but the worker commits
too. A `RelayWake` carries the news from the committing process to the API's:

* SQLite (`UdpWake`): the database is a file, so the worker is on the API's
  machine by construction. After such a commit the worker sends one UDP datagram
  to the API's HTTP port number (the TCP and UDP port spaces are separate);
  RELAY_WAKE_ADDR=host:port points a worker elsewhere.
* PostgreSQL (`NotifyWake`): `NOTIFY` inside the staging transaction (delivered
  at commit, never for a rollback) and `LISTEN` on a connection of the relay's,
  so it reaches the relay in another pod.

A change wake names the keys the commit changed (`changing`/`changed`, say order
ids), so the API re-reads only the views of those keys: a datagram "changed:id,id"
to the same port, or a `NOTIFY` on the service's `changed_*` channel with the ids as
its payload (every API replica listening hears it), in chunks that fit either.

A wake may be lost (the API restarting, the listening connection dropped, a datagram
dropped): the relay's idle poll and the views' slow safety re-read are the backstop,
so a lost wake only delays, never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection, Iterator
from typing import Any, Protocol

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

WAKE = b"wake"
CHANGED = b"changed:"  # then the changed keys, comma-separated
# Keys per datagram or NOTIFY payload: well inside one unfragmented datagram and
# PostgreSQL's 8,000-byte payload (a key is an id of at most 64 characters).
KEYS_PER_WAKE = 16

Changed = Callable[[list[str]], None]


def key_chunks(keys: Collection[str]) -> Iterator[str]:
    """The keys as comma-separated payloads of at most `KEYS_PER_WAKE` keys each."""
    ordered = sorted(keys)
    for start in range(0, len(ordered), KEYS_PER_WAKE):
        yield ",".join(ordered[start : start + KEYS_PER_WAKE])


def wake_address(host: str, http_port: int) -> tuple[str, int]:
    configured = os.environ.get("RELAY_WAKE_ADDR")
    if configured:
        name, _, port = configured.rpartition(":")
        return name, int(port)
    return ("127.0.0.1" if host in ("0.0.0.0", "") else host), http_port


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, wake: Callable[[], None], changed: Changed | None) -> None:
        self._wake = wake
        self._changed = changed

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data == WAKE:
            self._wake()
        elif data.startswith(CHANGED) and self._changed is not None:
            self._changed(data[len(CHANGED) :].decode(errors="replace").split(","))


async def listen(
    address: tuple[str, int], wake: Callable[[], None], changed: Changed | None = None
) -> asyncio.BaseTransport:
    """Call `wake` for every wake datagram to `address`, `changed` with the keys of
    every change datagram; close the transport to stop."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Listener(wake, changed), local_addr=address
    )
    return transport


class WakeSender:
    """Non-blocking and fire-and-forget: a commit never waits on, nor fails by, a wake."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._address = address
        self._socket: socket.socket | None = None

    def __call__(self, data: bytes = WAKE) -> None:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        with contextlib.suppress(OSError):  # nobody listening: the poll catches up
            self._socket.sendto(data, self._address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


Stop = Callable[[], Awaitable[None]]


def _deaf(exc: OSError) -> Stop:
    """A relay that cannot listen still polls (see above): slower, never lost."""
    log.warning("relay wake: not listening (%s); the relay polls instead", exc)

    async def stop() -> None:
        pass

    return stop


class RelayWake(Protocol):
    """How a commit that staged events reaches the relay of its service."""

    async def staged(self, session: AsyncSession) -> None:
        """In the staging transaction, before its commit."""

    def committed(self) -> None:
        """After that commit, from a process that does not run the relay."""

    async def changing(self, session: AsyncSession, keys: Collection[str]) -> None:
        """In a transaction that changed the rows of `keys`, before its commit."""

    def changed(self, keys: Collection[str]) -> None:
        """After that commit, from a process that does not serve the live views."""

    async def listen(self, wake: Callable[[], None], changed: Changed | None = None) -> Stop:
        """In the API process: call `wake` for every relay wake and `changed` with the
        keys of every change wake; the result stops it."""

    def close(self) -> None:
        """Let go of what sending holds."""


class UdpWake:
    """SQLite: a datagram after the commit (`WakeSender`), heard by `listen`."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self._send = WakeSender(address)

    async def staged(self, session: AsyncSession) -> None:
        pass

    def committed(self) -> None:
        self._send()

    async def changing(self, session: AsyncSession, keys: Collection[str]) -> None:
        pass

    def changed(self, keys: Collection[str]) -> None:
        for chunk in key_chunks(keys):
            self._send(CHANGED + chunk.encode())

    async def listen(self, wake: Callable[[], None], changed: Changed | None = None) -> Stop:
        try:
            transport = await listen(self.address, wake, changed)
        except OSError as exc:  # the port taken (another process on this host)
            return _deaf(exc)

        async def stop() -> None:
            transport.close()

        return stop

    def close(self) -> None:
        self._send.close()


class NotifyWake:
    """PostgreSQL: `NOTIFY channel` in the staging transaction (PostgreSQL delivers
    it at commit, once per transaction), `LISTEN channel` on an asyncpg connection
    of the relay's own."""

    def __init__(self, database_url: str, channel: str, changes_channel: str) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql")
        self.channel = channel
        self.changes_channel = changes_channel

    async def staged(self, session: AsyncSession) -> None:
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self.channel})

    def committed(self) -> None:
        pass  # the NOTIFY went with the commit

    async def changing(self, session: AsyncSession, keys: Collection[str]) -> None:
        for chunk in key_chunks(keys):
            await session.execute(
                text("SELECT pg_notify(:channel, :keys)"),
                {"channel": self.changes_channel, "keys": chunk},
            )

    def changed(self, keys: Collection[str]) -> None:
        pass  # the NOTIFY went with the commit

    async def listen(self, wake: Callable[[], None], changed: Changed | None = None) -> Stop:
        dsn = self._dsn.render_as_string(hide_password=False)
        try:
            connection = await asyncpg.connect(dsn)
        except OSError as exc:  # the database unreachable for a moment
            return _deaf(exc)

        def notified(*_: Any) -> None:
            wake()

        await connection.add_listener(self.channel, notified)
        if changed is not None:
            heard = changed  # bound, so the listener sees it is not None

            def changes(_connection: Any, _pid: int, _channel: str, keys: str) -> None:
                heard(keys.split(","))

            await connection.add_listener(self.changes_channel, changes)

        async def stop() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=5)

        return stop

    def close(self) -> None:
        pass


def relay_wake(database_url: str, service: str, host: str, http_port: int) -> RelayWake:
    """The wake that suits the database: NOTIFY on PostgreSQL, a datagram on SQLite."""
    if make_url(database_url).get_backend_name() == "postgresql":
        name = service.replace("-", "_")
        return NotifyWake(database_url, f"outbox_{name}", f"changed_{name}")
    return UdpWake(wake_address(host, http_port))
