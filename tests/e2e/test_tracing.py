"""One order is one trace: from `POST /orders` through the relays, every service's
policies and the read model to the KakaoTalk message, across real processes.

Each process of the system under test writes its finished spans as JSON lines
(FOODDELIVERY_TRACE_DIR, set by conftest.py); the test names the trace by sending a
W3C `traceparent` with the order, as a gateway in front of the API would.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from pathlib import Path

import pytest

from service_kit.telemetry import TRACE_DIR_ENV
from testkit.actors import Customer, StoreOwner, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def spans_of(trace_dir: Path, trace_id: str) -> list[dict]:
    found = []
    for path in trace_dir.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                span = json.loads(line)
            except json.JSONDecodeError:  # a line being written right now
                continue
            if span["context"]["trace_id"] == f"0x{trace_id}":
                found.append(span)
    return found


def service(span: dict) -> str:
    return span["resource"]["attributes"]["service.name"]


async def test_one_order_is_one_trace_across_the_services(http, system):
    tag = secrets.token_hex(4)
    owner = StoreOwner(http, system.endpoints, f"owner-{tag}")
    customer = Customer(http, system.endpoints, f"customer-{tag}")
    store, item = f"store-{tag}", f"item-{tag}"
    assert (await owner.register_store(store, "Hansik House", "gangnam")).is_success
    assert (await owner.set_menu_item(store, item, "Bibimbap", 9000, 10)).status_code == 200

    trace_id = secrets.token_hex(16)
    customer.headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"

    async def priced():
        r = await customer.place_order(store, [(item, 1)])
        return r if r.status_code != 422 else None

    placed = await wait_for(priced, within=60, what="the menu replica to price the order")
    assert placed.status_code == 201, placed.text

    trace_dir = Path(system.extra_env[TRACE_DIR_ENV])
    wanted = {
        ("order-service", "POST /orders"),
        ("order-service", "publish OrderPlaced"),
        ("store-service", "consume fooddelivery.order.events"),
        ("delivery-service", "consume fooddelivery.order.events"),
        ("mypage-service", "consume fooddelivery.order.events"),
        ("mypage-service", "send KakaoTalk"),
    }

    async def whole():
        spans = spans_of(trace_dir, trace_id)
        ids = {s["context"]["span_id"] for s in spans}
        # A process writes a span as it ends: wait for the parents of the hand-offs too.
        handed = [s for s in spans if s["name"].startswith(("consume ", "policy "))]
        done = wanted <= {(service(s), s["name"]) for s in spans}
        return spans if done and all(s["parent_id"] in ids for s in handed) else None

    spans = await wait_for(whole, within=60, what=f"the spans {sorted(wanted)}")
    by_service = Counter(service(s) for s in spans)
    print(f"\ntrace {trace_id}: {len(spans)} spans, by service: {dict(by_service)}")
    assert len(by_service) >= 4
    # The database work of the command and of the policies is in it too.
    queried = {service(s) for s in spans if "db.system" in s["attributes"]}
    assert {"order-service", "store-service", "mypage-service"} <= queried
    # Every policy span sits under a consumer span of the same trace.
    ids = {s["context"]["span_id"]: s for s in spans}
    policies = [s for s in spans if s["name"].startswith("policy ")]
    assert {service(p) for p in policies} >= {"store-service", "delivery-service", "mypage-service"}
    for policy in policies:
        assert ids[policy["parent_id"]]["name"].startswith("consume ")
    # Each consumer span is a child of a producer span sent by another service.
    for consumer in (s for s in spans if s["name"].startswith("consume ")):
        producer = ids[consumer["parent_id"]]
        assert producer["kind"] == "SpanKind.PRODUCER" and service(producer) != service(consumer)
