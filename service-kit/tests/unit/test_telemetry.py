"""Traces across Kafka: the command's traceparent travels with the message and the
consumer continues it; logs carry the ids. An in-memory exporter records the spans."""

import json
import logging

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind

from service_kit import telemetry
from service_kit.consumer import EventProcessor, RawMessage
from service_kit.runtime import JsonFormatter, configure_logging
from shared_events import encode, wrap
from testkit.samples import order_placed

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def provider():
    # The API allows one global provider per process; this module is its only user.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    yield provider


@pytest.fixture(autouse=True)
def fresh():
    EXPORTER.clear()


def placed() -> bytes:
    return encode(wrap(order_placed(), producer="order-service"))


def trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


class RecordingBus:
    """Handles every event and remembers the traceparent in flight when it did."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def handles(self, event) -> bool:
        return True

    async def handle_event(self, envelope, event) -> bool:
        with telemetry.span("policy record"):
            self.seen.append(telemetry.current_traceparent())
        return True


class NoDeadLetters:
    async def park(self, message, error, attempts) -> None:
        raise AssertionError(f"parked: {error!r}")


def test_no_traceparent_outside_a_span():
    assert telemetry.current_traceparent() is None
    assert telemetry.log_trace_ids() is None


def test_a_row_without_a_trace_is_sent_without_a_header():
    with telemetry.publishing(None, "fooddelivery.order.events", "OrderPlaced") as headers:
        assert headers == []
    assert EXPORTER.get_finished_spans() == ()


async def test_the_consumer_continues_the_commands_trace_through_the_relays_header():
    with telemetry.span("POST /orders"):
        staged = telemetry.current_traceparent()  # what stage() stores with the row
    assert staged is not None

    with telemetry.publishing(staged, "fooddelivery.order.events", "OrderPlaced") as headers:
        pass
    assert [k for k, _ in headers] == ["traceparent"]
    sent = headers[0][1].decode()
    assert trace_id(sent) == trace_id(staged)

    bus = RecordingBus()
    processor = EventProcessor("mypage-service", bus, NoDeadLetters())
    outcome = await processor.process(
        RawMessage("fooddelivery.order.events", 2, 5, b"o-1", placed(), tuple(headers))
    )
    assert outcome.status == "applied"
    # What the policy stages carries the same trace on.
    assert bus.seen and bus.seen[0] is not None and trace_id(bus.seen[0]) == trace_id(staged)

    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    assert set(spans) == {
        "POST /orders",
        "publish OrderPlaced",
        "consume fooddelivery.order.events",
        "policy record",
    }
    assert len({s.context.trace_id for s in spans.values()}) == 1
    producer, consumer = spans["publish OrderPlaced"], spans["consume fooddelivery.order.events"]
    assert (
        producer.parent is not None
        and producer.parent.span_id == spans["POST /orders"].context.span_id
    )
    assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
    assert consumer.attributes["messaging.consumer.group.name"] == "mypage-service"


async def test_a_message_without_a_header_starts_a_trace_of_its_own():
    bus = RecordingBus()
    processor = EventProcessor("mypage-service", bus, NoDeadLetters())
    await processor.process(RawMessage("fooddelivery.order.events", 0, 1, b"o-2", placed()))
    (consumer,) = [s for s in EXPORTER.get_finished_spans() if s.name.startswith("consume")]
    assert consumer.parent is None


def test_a_lone_query_is_not_traced_but_a_query_of_a_traced_request_is():
    sampler = telemetry.sampler()
    lone = sampler.should_sample(None, 1, "SELECT outbox", SpanKind.CLIENT)
    assert lone.decision is Decision.DROP
    with telemetry.span("POST /orders"):
        inner = sampler.should_sample(context.get_current(), 1, "INSERT orders", SpanKind.CLIENT)
    assert inner.decision is Decision.RECORD_AND_SAMPLE
    assert sampler.should_sample(None, 1, "POST /orders", SpanKind.SERVER).decision.is_sampled()


def test_a_log_line_is_json_with_the_trace_and_span_ids():
    formatter = JsonFormatter("order-service")
    record = logging.LogRecord(
        "order_service", logging.INFO, __file__, 1, "placed %s", ("o-1",), None
    )
    assert "trace_id" not in json.loads(formatter.format(record))
    with telemetry.span("POST /orders") as span:
        line = json.loads(formatter.format(record))
        context = span.get_span_context()
    assert line["message"] == "placed o-1"
    assert line["service"] == "order-service" and line["level"] == "INFO"
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")


def test_the_logging_setup_keeps_a_capture_fed_and_never_logs_sql_parameters(caplog, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    configure_logging("order-service")
    logging.getLogger("order_service").debug("order %s placed", "o-1")
    logging.getLogger("aiosqlite").debug("executing INSERT ... ('010-1234-5678',)")
    assert "order o-1 placed" in caplog.text
    assert "010-1234-5678" not in caplog.text
