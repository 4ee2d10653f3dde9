"""`/metrics` of a real API and a real worker after one order: every family of
metric_names.py is there, and the counters moved."""

from __future__ import annotations

import secrets

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service_kit.metric_names import METRICS
from shared_events.topics import EVENT_TOPICS
from testkit.actors import Customer, StoreOwner, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def scrape(http: httpx.AsyncClient, url: str) -> dict[tuple[str, frozenset], float]:
    r = await http.get(f"{url}/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def families(samples: dict[tuple[str, frozenset], float]) -> set[str]:
    return {name for name, _ in samples}


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum over the samples of `name` that carry these labels (others free)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_an_api_and_a_worker_export_every_metric_and_count_one_order(http, system):
    tag = secrets.token_hex(4)
    owner = StoreOwner(http, system.endpoints, f"owner-{tag}")
    customer = Customer(http, system.endpoints, f"customer-{tag}")
    store, item = f"store-{tag}", f"item-{tag}"
    assert (await owner.register_store(store, "Hansik House", "gangnam")).is_success
    assert (await owner.set_menu_item(store, item, "Bibimbap", 9000, 10)).status_code == 200

    api = system.url("order-service")
    worker = f"http://127.0.0.1:{system.spec('store-service').worker_web_port + system.port_offset}"
    before_api, before_worker = await scrape(http, api), await scrape(http, worker)

    async def priced():
        r = await customer.place_order(store, [(item, 1)])
        return r if r.status_code != 422 else None

    placed = await wait_for(priced, within=60, what="the menu replica to price the order")
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    await wait_for(lambda: owner.ticket_arrived(store, order_id), within=60, what="the ticket")

    handled = "fooddelivery_events_handled_total"

    async def counted():
        after = await scrape(http, worker)
        moved = value(after, handled, event_type="OrderPlaced") > value(
            before_worker, handled, event_type="OrderPlaced"
        )
        return after if moved else None

    after_worker = await wait_for(counted, within=60, what="the store worker to count OrderPlaced")
    after_api = await scrape(http, api)

    # Every declared family is exported by both processes (a histogram by its _count).
    for metric in METRICS:
        name = metric.name + ("_count" if metric.kind == "histogram" else "")
        if metric.labels:  # a labelled family shows once a series of it exists
            continue
        assert name in families(after_api), f"API lacks {name}"
        assert name in families(after_worker), f"worker lacks {name}"
    route = {"method": "POST", "route": "/orders"}
    requests = "fooddelivery_http_requests_total"
    assert (
        value(after_api, requests, status="201", **route)
        == value(before_api, requests, status="201", **route) + 1
    )
    assert value(after_api, "fooddelivery_http_request_duration_seconds_count", **route) >= 1
    assert not any(order_id in str(labels) for _, labels in after_api)  # templates only
    assert value(after_api, "fooddelivery_db_pool_size") >= 1
    lags = [labels for name, labels in after_worker if name == "fooddelivery_consumer_lag"]
    assert lags, "the worker reports its lag per owned partition"
    assert {dict(ls)["topic"] for ls in lags} <= set(EVENT_TOPICS)

    # The order's event was published: the backlog drains to nothing behind it.
    async def drained():
        samples = await scrape(http, api)
        return value(samples, "fooddelivery_outbox_backlog") == 0 or None

    await wait_for(drained, within=60, what="the order-service outbox to drain")
