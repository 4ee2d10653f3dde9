"""The metrics of metric_names.py: exported under those names, counted by route
template and by event type."""

import httpx
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service_kit import metrics
from service_kit.consumer import EventProcessor, RawMessage
from service_kit.http import Edge
from service_kit.metric_names import METRICS
from shared_events import encode, wrap
from testkit.samples import order_placed


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_declared_metric_is_exported_under_its_name():
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    families = {f.name: f.type for f in text_string_to_metric_families(body.decode())}
    for metric in METRICS:
        # The text format names a counter's family without its _total suffix.
        family = metric.name.removesuffix("_total") if metric.kind == "counter" else metric.name
        assert families.get(family) == metric.kind, metric.name


async def test_requests_are_counted_by_route_template_never_by_raw_path():
    app = FastAPI()
    app.add_middleware(Edge)

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    before = sample(
        "fooddelivery_http_requests_total", method="GET", route="/orders/{order_id}", status="200"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/orders/o-123")).status_code == 200
        assert (await client.get("/nowhere/o-123")).status_code == 404
    labels = {"method": "GET", "route": "/orders/{order_id}", "status": "200"}
    assert sample("fooddelivery_http_requests_total", **labels) == before + 1
    assert (
        sample("fooddelivery_http_requests_total", method="GET", route="<unmatched>", status="404")
        >= 1
    )
    assert (
        sample(
            "fooddelivery_http_request_duration_seconds_count",
            method="GET",
            route="/orders/{order_id}",
        )
        >= 1
    )
    body, _ = metrics.exposition()
    assert b"o-123" not in body


async def test_a_route_an_included_router_serves_is_counted_by_its_template_too():
    app = FastAPI()
    app.add_middleware(Edge)
    router = APIRouter()

    @router.get("/parts/{part_id}")
    async def part(part_id: str) -> dict[str, str]:
        return {"part_id": part_id}

    app.include_router(router)
    labels = {"method": "GET", "route": "/parts/{part_id}", "status": "200"}
    before = sample("fooddelivery_http_requests_total", **labels)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/parts/p-1")).status_code == 200
    assert sample("fooddelivery_http_requests_total", **labels) == before + 1


class FlakyBus:
    """Fails the first attempt of each event, then applies it."""

    def __init__(self) -> None:
        self.calls = 0

    def handles(self, event) -> bool:
        return True

    async def handle_event(self, envelope, event) -> bool:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("database away")
        return True


class Parked:
    async def park(self, message, error, attempts) -> None:
        pass


async def test_events_are_counted_handled_retried_and_parked_by_type():
    handled = sample("fooddelivery_events_handled_total", event_type="OrderPlaced")
    retried = sample("fooddelivery_events_retried_total", event_type="OrderPlaced")
    parked = sample("fooddelivery_events_parked_total", event_type="unknown")
    processor = EventProcessor("test", FlakyBus(), Parked(), backoff_multiplier=0.001)
    value = encode(wrap(order_placed(), producer="order-service"))
    outcome = await processor.process(RawMessage("fooddelivery.order.events", 0, 1, b"k", value))
    assert outcome.status == "applied" and outcome.retries == 1
    await processor.process(RawMessage("fooddelivery.order.events", 0, 2, b"k", b"not json"))
    assert sample("fooddelivery_events_handled_total", event_type="OrderPlaced") == handled + 1
    assert sample("fooddelivery_events_retried_total", event_type="OrderPlaced") == retried + 1
    assert sample("fooddelivery_events_parked_total", event_type="unknown") == parked + 1


async def test_a_scrape_reads_the_gauges_first():
    async def five() -> float:
        return 5.0

    await metrics.refresh({metrics.NOTIFICATIONS_PENDING: five})
    assert sample("fooddelivery_notifications_pending") == 5.0
    metrics.consumer_lag({("fooddelivery.order.events", 2): 7})
    assert (
        sample("fooddelivery_consumer_lag", topic="fooddelivery.order.events", partition="2") == 7
    )
    metrics.consumer_lag({})  # a partition given away is no longer reported
    lag = {"topic": "fooddelivery.order.events", "partition": "2"}
    assert REGISTRY.get_sample_value("fooddelivery_consumer_lag", lag) is None
