"""Issue 12's reproductions against the real processes: every bad input gets a clear
4xx in the edge's one shape, and the server drops what it must not wait for."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from service_kit.limits import MAX_BODY_BYTES
from testkit.launcher import SERVICES, System

from .conftest import READ_TIMEOUT_S, People

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}
BIG = 2**63  # one past SQLite's largest integer


def field_errors(response: httpx.Response) -> list[dict]:
    """A 422 in its one shape: a list of {loc, msg, type}, nothing echoed back."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert isinstance(errors, list) and errors
    for error in errors:
        assert set(error) == {"loc", "msg", "type"}
    return errors


@pytest.mark.parametrize(
    ("service", "path", "query"),
    [
        ("mypage-service", "/mypage/customers/{customer}/orders", {}),
        ("store-service", "/stores/fuzz-store/orders", {}),
        ("delivery-service", "/deliveries", {"region": "fuzzville"}),
    ],
)
@pytest.mark.parametrize("offset", [BIG, 2**63 - 1, -1])
def test_an_offset_out_of_range_is_422(
    system, seeded, people, service, path, query, offset
) -> None:
    url = f"{system.url(service)}{path.format(customer=people.ids['customer'])}"
    r = httpx.get(url, params={**query, "offset": offset}, headers=people.of(service))
    assert [e["loc"] for e in field_errors(r)] == [["query", "offset"]]


def test_the_deepest_offset_allowed_answers_an_empty_page(system: System, people: People) -> None:
    url = f"{system.url('mypage-service')}/mypage/customers/{people.ids['customer']}/orders"
    r = httpx.get(url, params={"offset": 100_000}, headers=people.of("mypage-service"))
    assert (r.status_code, r.json()["orders"]) == (200, [])


@pytest.mark.parametrize(
    ("service", "method", "path", "body"),
    [
        ("store-service", "PUT", "/stores/s9", b'{"name": "\\ud800", "region": "r"}'),
        ("store-service", "PUT", "/stores/s9", b'{"\\udfff": 1}'),
        ("store-service", "PUT", "/store-orders/x/acceptance", b'{"accepted": "\\ud800"}'),
        ("delivery-service", "PUT", "/deliveries/x/return", b'{"reason": 5, "\\ud800": 1}'),
        ("order-service", "POST", "/orders", b'{"store_id": "\\ud800"}'),
        ("order-service", "POST", "/orders", b'{"store_id": "s1", \xff\xfe}'),  # not UTF-8
    ],
)
def test_a_lone_surrogate_or_bad_bytes_is_422(
    system: System, people: People, service, method, path, body
):
    headers = {**people.of(service), **JSON}
    r = httpx.request(method, f"{system.url(service)}{path}", content=body, headers=headers)
    assert field_errors(r)  # encodable, so the reply is sent at all
    assert httpx.get(f"{system.url('store-service')}/stores/s9/menu").status_code == 404


def test_a_refused_phone_number_is_not_echoed(system: System, seeded, people: People) -> None:
    body = {
        "store_id": "fuzz-store",
        "items": [{"menu_item_id": "fuzz-item", "quantity": 1}],
        "delivery_address": {"line": "Secret-ro 7", "region": "fuzzville"},
        "phone": "010-9876-54321",
        "payment": {"card_token": "tok_ok"},
    }
    headers = people.of("order-service")
    r = httpx.post(f"{system.url('order-service')}/orders", json=body, headers=headers)
    assert [e["loc"] for e in field_errors(r)] == [["body", "phone"]]
    assert "9876" not in r.text and "Secret-ro" not in r.text


def test_a_bad_token_is_a_401_in_the_one_shape(system: System) -> None:
    bad = {"Authorization": "Bearer " + "a" * 65}
    r = httpx.get(f"{system.url('order-service')}/orders/x", headers=bad)
    assert (r.status_code, set(r.json())) == (401, {"detail"})
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_an_idempotency_key_reused_is_a_422_in_the_one_shape(
    system: System, seeded, people: People
) -> None:
    url = f"{system.url('order-service')}/orders"
    headers = {**people.of("order-service"), "Idempotency-Key": "edge-key"}

    def order(quantity: int) -> httpx.Response:
        return httpx.post(
            url,
            headers=headers,
            json={
                "store_id": "fuzz-store",
                "items": [{"menu_item_id": "fuzz-item", "quantity": quantity}],
                "delivery_address": {"line": "1 Main-ro", "region": "fuzzville"},
                "phone": "010-1234-5678",
                "payment": {"card_token": "tok_ok"},
            },
        )

    assert order(1).status_code == 201
    [error] = field_errors(order(2))
    assert error["loc"] == ["header", "Idempotency-Key"]


def test_a_405_names_every_method_of_the_path(system: System, people: People) -> None:
    r = httpx.put(f"{system.url('order-service')}/orders/x", headers=people.of("order-service"))
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET"  # FastAPI answers HEAD with 405 too
    assert set(r.json()) == {"detail"}


@pytest.mark.parametrize(
    "content_type", ["application/vnd.foo+json", "text/plain", "application/x-www-form-urlencoded"]
)
def test_a_body_not_sent_as_application_json_is_415(
    system: System, people: People, content_type: str
) -> None:
    r = httpx.put(
        f"{system.url('store-service')}/stores/s9",
        content=b'{"name": "n", "region": "r"}',
        headers={**people.of("store-service"), "Content-Type": content_type},
    )
    assert (r.status_code, set(r.json())) == (415, {"detail"})


def test_json_with_a_charset_is_json(system: System, people: People) -> None:
    r = httpx.put(
        f"{system.url('store-service')}/stores/edge-store",
        content=b'{"name": "n", "region": "r"}',
        headers={**people.of("store-service"), "Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_every_operation_documents_its_bodies_and_refusals(system: System, service: str) -> None:
    spec = httpx.get(f"{system.url(service)}/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if "text/event-stream" in response["content"]:
                    # The status stream (SSE): its 200 is a media type, not a JSON body.
                    assert status == "200", (path, status)
                    continue
                schema = response["content"]["application/json"]["schema"]
                if status.startswith("4"):
                    expected = "ValidationProblem" if status == "422" else "Problem"
                    assert schema == {"$ref": f"#/components/schemas/{expected}"}, (path, status)
                else:
                    assert schema.get("$ref"), (method, path, status)  # a model, not `{}`
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in responses, (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (method, path)
            # A route needing a token says so, and declares its 401 and 403; a public
            # one (menus, the stores of a region, health) never answers 401.
            secured = any("bearer" in s for s in operation.get("security", ()))
            assert ({"401", "403"} <= set(responses)) == secured, (method, path)
            assert secured or "401" not in responses, (method, path)


# ------------------------------------------------------------- raw sockets: the limits


def _connect(system: System, service: str) -> socket.socket:
    url = urlsplit(system.url(service))
    sock = socket.create_connection((url.hostname, url.port), timeout=READ_TIMEOUT_S * 10)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(status_line.split()[1]), headers, body


def test_a_declared_16_mb_body_is_413_before_it_is_sent(system: System) -> None:
    with _connect(system, "store-service") as sock:
        sock.sendall(
            b"PUT /stores/s9 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 16777216\r\n\r\n{"
        )
        status, headers, body = _read_response(sock)  # with 16 MB never sent
    assert (status, headers["content-type"]) == (413, "application/json")
    assert set(json.loads(body)) == {"detail"}


def test_a_chunked_body_past_the_limit_is_413(system: System) -> None:
    chunk = b'{"name": "' + b"x" * 65536
    with _connect(system, "store-service") as sock:
        sock.sendall(
            b"PUT /stores/s9 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        try:
            while sent <= MAX_BODY_BYTES * 2:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        status, _, body = _read_response(sock)
    assert status == 413
    assert set(json.loads(body)) == {"detail"}


@pytest.mark.parametrize(
    "partial",
    [
        b"",  # connects, sends nothing
        b"GET /health/live HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        b"PUT /stores/s9 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",  # body never finished
    ],
)
@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_a_half_sent_request_is_dropped(system: System, service: str, partial: bytes) -> None:
    with _connect(system, service) as sock:
        sock.sendall(partial)
        deadline = time.monotonic() + READ_TIMEOUT_S * 10
        while time.monotonic() < deadline:
            if sock.recv(65536) == b"":  # the server closed the connection
                break
        else:
            raise AssertionError("the half-sent request was kept open")
