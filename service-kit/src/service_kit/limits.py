"""The edge's limits on what a client may send, and how long it may take sending it.

- A body larger than MAX_BODY_BYTES is refused with 413: from its Content-Length
  before a byte of it is read, or, for a chunked body, as soon as the bytes read
  pass the limit. A body that is not `application/json` is refused with 415.
  Both by the edge's one ASGI middleware (`service_kit.http.Edge`, with `refusal`
  and `counting` here), so the answer has the edge's one error shape (Starlette's
  own body limit answers in plain text).
- A request must arrive whole (headers and body) within the read timeout of its
  first byte, or of the connection being opened; otherwise the connection is
  closed. uvicorn has no such setting (only a keep-alive timeout between
  requests), so `read_timeout_protocol` adds it to uvicorn's httptools protocol
  (llhttp, in C: a request costs a fraction of the pure-Python h11's CPU).
  A request's head (request line and headers) is limited to MAX_HEAD_BYTES
  (16 KiB, h11's limit); beyond, the protocol answers 400 in plain text and
  closes, before any application code runs.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Message, Receive
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service_kit.problems import problem

MAX_BODY_BYTES = 256 * 1024
MAX_HEAD_BYTES = 16 * 1024  # request line and headers (what h11 allowed)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"  # OAuth2's token endpoint (RFC 6749 4.3.2)


def refusal(
    length: bytes | None,
    content_type: bytes,
    media_types: tuple[str, ...],
    max_bytes: int = MAX_BODY_BYTES,
) -> Response | None:
    """The answer to a request with a body refused before a byte of it is read (413
    from its Content-Length, 415 for a body that is not of `media_types`), or None.
    The edge found the headers in one pass over the raw ones (http.Edge)."""
    if length is not None and length.isdigit() and int(length) > max_bytes:
        return problem(413, too_large(max_bytes))
    if content_type.split(b";")[0].strip().lower().decode("latin-1") not in media_types:
        return problem(415, f"a request body must be {' or '.join(media_types)}")
    return None


def too_large(max_bytes: int) -> str:
    return f"the body is larger than {max_bytes} bytes"


def counting(receive: Receive, max_bytes: int = MAX_BODY_BYTES) -> Receive:
    """`receive` that refuses a streamed body once it passes the limit."""
    read = 0

    async def counted() -> Message:
        nonlocal read
        message = await receive()
        read += len(message.get("body", b""))
        if read > max_bytes:
            raise HTTPException(413, too_large(max_bytes))  # answered by the error handler
        return message

    return counted


def read_timeout_protocol(seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, closing a connection whose request has not arrived
    whole `seconds` after the connection opened or the request's first byte, and
    refusing (400) a request whose head is larger than MAX_HEAD_BYTES."""

    class ReadTimeoutProtocol(HttpToolsProtocol):
        _read_timer: asyncio.TimerHandle | None = None
        _in_head = True  # the current request's head is not complete yet
        _head_bytes = 0  # bytes received while in the head (llhttp buffers a partial one)
        _head_size = 0  # its request line and headers, as parsed

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._arm()
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
                self._head_too_large()

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head, self._head_bytes = False, 0
            if self._head_size > MAX_HEAD_BYTES:
                # Raised inside the parser's callback: uvicorn answers 400 and closes.
                raise ValueError("the request's head is too large")
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes, self._head_size = True, 0, 0
            self._disarm()  # the request is in; the handler may take its time

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _head_too_large(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.send_400_response("Request head too large.")

        def _arm(self) -> None:
            if self._read_timer is None:
                self._read_timer = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _timed_out(self) -> None:
            self._read_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return ReadTimeoutProtocol
