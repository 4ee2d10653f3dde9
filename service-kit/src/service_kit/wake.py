"""Waking the outbox relay from the other process of a service.

The relay runs in the API process only (one relay per database, so every row is
published exactly once), but the worker commits events too. After such a commit
the worker sends one UDP datagram to the API's relay; the relay wakes at once
instead of at its next poll. A datagram may be lost (the API restarting): the
relay's idle poll is the backstop, so a lost wake only delays, never loses.

The API listens on its HTTP port number, over UDP on the same host (the TCP and
UDP port spaces are separate); RELAY_WAKE_ADDR=host:port points a worker
elsewhere (a container beside its API).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable

WAKE = b"wake"


def wake_address(host: str, http_port: int) -> tuple[str, int]:
    configured = os.environ.get("RELAY_WAKE_ADDR")
    if configured:
        name, _, port = configured.rpartition(":")
        return name, int(port)
    return ("127.0.0.1" if host in ("0.0.0.0", "") else host), http_port


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data == WAKE:
            self._wake()


async def listen(address: tuple[str, int], wake: Callable[[], None]) -> asyncio.BaseTransport:
    """Call `wake` for every wake datagram to `address`; close the transport to stop."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Listener(wake), local_addr=address)
    return transport


class WakeSender:
    """Non-blocking and fire-and-forget: a commit never waits on, nor fails by, a wake."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._address = address
        self._socket: socket.socket | None = None

    def __call__(self) -> None:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        with contextlib.suppress(OSError):  # nobody listening: the poll catches up
            self._socket.sendto(WAKE, self._address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
