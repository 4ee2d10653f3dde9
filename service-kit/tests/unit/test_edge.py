"""The shared HTTP edge on a small app: one error shape, the body limits, Allow, and
uvicorn's protocol dropping a request that never arrives whole."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI

from service_kit.auth import install_resource_server
from service_kit.http import Customer, Page, PathId, RequestBody, install_edge, paging
from service_kit.kernel import Conflict, InvalidInput
from service_kit.limits import MAX_BODY_BYTES, MAX_HEAD_BYTES, read_timeout_protocol
from testkit import tokens


class Body(RequestBody):
    name: str
    phone: Annotated[str, "a phone number, never echoed"]


def small_app() -> FastAPI:
    app = FastAPI()
    install_edge(app)
    install_resource_server(app, tokens.resource_server())

    @app.get("/things/{thing_id}")
    async def get(thing_id: PathId, page: Annotated[Page, paging(default=5, most=10)]) -> dict:
        return {"thing_id": thing_id, "limit": page.limit, "offset": page.offset}

    @app.delete("/things/{thing_id}")
    async def delete(thing_id: PathId, actor: Customer) -> dict:
        raise Conflict(f"{thing_id} is busy", current_state="BUSY")

    @app.put("/things/{thing_id}")
    async def put(thing_id: PathId, body: Body, actor: Customer) -> dict:
        if body.name == "dup":
            raise InvalidInput("already used", field="Idempotency-Key", location="header")
        return {"thing_id": thing_id, "name": body.name}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        yield http


ACTOR = tokens.customer("a1")
JSON_TYPE = {"Content-Type": "application/json"}


async def test_a_validation_error_names_the_field_and_never_echoes_it(client) -> None:
    r = await client.put("/things/t1", json={"name": "n", "phone": 1234567}, headers=ACTOR)
    assert r.status_code == 422
    assert r.json() == {
        "detail": [
            {
                "loc": ["body", "phone"],
                "msg": "Input should be a valid string",
                "type": "string_type",
            }
        ]
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\\ud800", "phone": "1"}',  # a plain `str` field would take it
        b'{"name": "n", "phone": "1", "\\udfff": 2}',
        b'{"name": ["\\udc00"], "phone": "1"}',
    ],
)
async def test_a_lone_surrogate_is_a_422_that_can_be_sent(client, body: bytes) -> None:
    r = await client.put(
        "/things/t1", content=body, headers={**ACTOR, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]


async def test_a_body_that_is_not_utf8_is_422(client) -> None:
    r = await client.put(
        "/things/t1", content=b"\xff\xfe{}", headers={**ACTOR, "Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["detail"][0]["type"]) == (422, "json_invalid")


async def test_every_refusal_has_the_one_shape(client) -> None:
    dup = await client.put("/things/t1", json={"name": "dup", "phone": "1"}, headers=ACTOR)
    assert dup.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    busy = await client.delete("/things/t1", headers=ACTOR)
    assert busy.status_code == 409
    assert busy.json() == {"detail": "t1 is busy", "current_state": "BUSY"}
    anonymous = await client.delete("/things/t1")
    assert (anonymous.status_code, set(anonymous.json())) == (401, {"detail"})
    long = await client.delete("/things/t1", headers=tokens.customer("a" * 65))
    assert (long.status_code, set(long.json())) == (401, {"detail"})


async def test_a_405_names_every_method_of_the_path(client) -> None:
    r = await client.post("/things/t1")
    assert (r.status_code, r.headers["allow"]) == (405, "DELETE, GET, PUT")
    assert set(r.json()) == {"detail"}


async def test_a_405_names_the_methods_of_a_path_an_included_router_serves() -> None:
    app = FastAPI()
    install_edge(app)
    router = APIRouter()

    @router.get("/parts/{part_id}")
    async def get_part(part_id: PathId) -> dict:
        return {"part_id": part_id}

    @router.delete("/parts/{part_id}")
    async def delete_part(part_id: PathId) -> dict:
        return {"part_id": part_id}

    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        r = await http.post("/parts/p1")
    assert (r.status_code, r.headers["allow"]) == (405, "DELETE, GET")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 200),
        ("?offset=100000", 200),
        ("?offset=100001", 422),
        ("?limit=11", 422),
        (f"?offset={2**63}", 422),
    ],
)
async def test_paging_is_bounded(client, query: str, status: int) -> None:
    assert (await client.get(f"/things/t1{query}")).status_code == status


async def test_a_large_body_is_413_from_its_length(client) -> None:
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'", "phone": "1"}'
    r = await client.put("/things/t1", content=body, headers={**ACTOR, **JSON_TYPE})
    assert (r.status_code, set(r.json())) == (413, {"detail"})


async def test_a_streamed_body_past_the_limit_is_413(client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(5):
            yield b"x" * (MAX_BODY_BYTES // 4)
        yield b'", "phone": "1"}'

    r = await client.put("/things/t1", content=chunks(), headers={**ACTOR, **JSON_TYPE})
    assert (r.status_code, set(r.json())) == (413, {"detail"})


@pytest.mark.parametrize("kind", ["application/vnd.foo+json", "text/plain", None])
async def test_a_body_must_be_application_json(client, kind: str | None) -> None:
    headers = {**ACTOR, "Content-Type": kind} if kind else ACTOR
    r = await client.put("/things/t1", content=b'{"name": "n", "phone": "1"}', headers=headers)
    assert (r.status_code, set(r.json())) == (415, {"detail"})


# ------------------------------------------------------------ uvicorn's read timeout


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    """The small app under uvicorn with a 0.5 s read timeout, on a free port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(small_app(), http=read_timeout_protocol(0.5), log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(running.serve([sock])))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not running.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            thread.join(0.05)
        yield sock.getsockname()
    finally:
        running.should_exit = True
        thread.join(30)


@pytest.mark.parametrize(
    "partial",
    [
        b"",
        b"GET /things/t1 HTTP/1.1\r\nHost: x\r\n",
        b"PUT /things/t1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",
    ],
    ids=["nothing", "half the headers", "half the body"],
)
def test_a_request_that_never_arrives_whole_is_dropped(server, partial: bytes) -> None:
    with socket.create_connection(server, timeout=20) as sock:
        sock.sendall(partial)
        assert sock.recv(1024) == b""  # closed by the server (a timeout would raise)


def test_a_whole_request_is_answered_on_the_same_protocol(server) -> None:
    with socket.create_connection(server, timeout=20) as sock:
        sock.sendall(b"GET /things/t1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("pieces", [1, 40], ids=["in one write", "trickled"])
def test_a_request_head_past_the_limit_is_400_and_closed(server, pieces: int) -> None:
    head = b"GET /things/t1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    step = -(-len(head) // pieces)
    with socket.create_connection(server, timeout=20) as sock:
        for start in range(0, len(head), step):
            try:
                sock.sendall(head[start : start + step])
            except OSError:  # closed by the server mid-head
                break
        answer = sock.recv(1024)
        assert answer.startswith(b"HTTP/1.1 400 ")
        while answer:  # then the connection is closed
            answer = sock.recv(1024)


def test_a_head_within_the_limit_is_answered(server) -> None:
    filler = b"X-Fill: " + b"a" * (MAX_HEAD_BYTES - 200) + b"\r\n"
    with socket.create_connection(server, timeout=20) as sock:
        sock.sendall(b"GET /things/t1 HTTP/1.1\r\nHost: x\r\n" + filler + b"\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")
