"""Traces: one OpenTelemetry setup for every process, and the hand-offs across Kafka.

A command's trace is carried by its events: `stage` stores the W3C `traceparent` of
the span in flight with each outbox row, the relay publishes the row in a producer
span under that parent and sends the producer span's `traceparent` as a Kafka header,
and the consumer continues it (a consumer span, then a span per policy), so what the
policy stages carries the trace on. One order is one trace across every service.

Exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the
standard OTEL_* variables itself). FOODDELIVERY_TRACE_DIR (tests only) writes every
finished span as one JSON line to a file per process in that folder. With neither,
tracing is off: the API's no-op tracer, no instrumentation installed, nothing stored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from opentelemetry import context, trace
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACE_DIR_ENV = "FOODDELIVERY_TRACE_DIR"
TRACEPARENT = "traceparent"

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("service_kit")


def enabled() -> bool:
    return bool(_otlp_endpoint() or _trace_dir())


def _otlp_endpoint() -> str | None:
    # Spelled out: the deployment checks (testkit.deploy_facts) look for the names read.
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")


def _trace_dir() -> str | None:
    return os.environ.get("FOODDELIVERY_TRACE_DIR")


def configure_tracing(
    service: str, role: str, engines: Sequence[AsyncEngine | Engine] = ()
) -> bool:
    """Install the process's tracer provider and the SQLAlchemy instrumentation on its
    engines; False (and nothing installed) when tracing is off."""
    if not enabled():
        return False
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    resource = Resource.create({"service.name": service, "service.namespace": "fooddelivery"})
    provider = TracerProvider(
        resource=resource.merge(Resource({"fooddelivery.process": role})),
        sampler=sampler(),
    )
    if _otlp_endpoint():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if trace_dir := _trace_dir():
        Path(trace_dir).mkdir(parents=True, exist_ok=True)
        # Open for the process's life: the exporter writes each span as it ends.
        out = open(Path(trace_dir) / f"{service}-{role}-{os.getpid()}.jsonl", "a")
        exporter = ConsoleSpanExporter(
            out=out, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if engines:
        # Statements only, never their parameters. The instrumentation's declared range
        # stops below the SQLAlchemy we run; its engine events are unchanged in 2.1.
        SQLAlchemyInstrumentor().instrument(
            engines=[e.sync_engine if isinstance(e, AsyncEngine) else e for e in engines],
            tracer_provider=provider,
            skip_dep_check=True,
        )
    return True


class _NoLoneQueries(Sampler):
    """Root sampler: a query outside any span (a relay's or dispatcher's poll, every
    tenth of a second) would be a trace of its own; only queries of a traced request or
    message are kept. The database instrumentation's spans are the only CLIENT ones."""

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "NoLoneQueries"


def sampler() -> Sampler:
    """Children follow their parent; roots are kept, except lone queries."""
    return ParentBased(root=_NoLoneQueries())


def current_traceparent() -> str | None:
    """The W3C traceparent of the span in flight; None outside any (or tracing off)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def log_trace_ids() -> tuple[str, str] | None:
    """The hex trace and span ids of the span in flight, for a log line."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _parent(traceparent: str | None) -> context.Context | None:
    return _propagator.extract({TRACEPARENT: traceparent}) if traceparent else None


@contextmanager
def continued(
    traceparent: str | None, name: str, kind: SpanKind = SpanKind.INTERNAL, **attributes: str
) -> Iterator[None]:
    """Work done later for a stored trace (a relayed row, a queued message): a span
    under that trace; nothing when the row has none."""
    if traceparent is None:
        yield
        return
    with tracer.start_as_current_span(
        name, context=_parent(traceparent), kind=kind, attributes=attributes
    ):
        yield


@contextmanager
def publishing(
    traceparent: str | None, topic: str, event_type: str
) -> Iterator[list[tuple[str, bytes]]]:
    """A producer span under the staged row's trace; yields the Kafka headers that
    carry it on (none when the row had no trace)."""
    attributes = {"messaging.system": "kafka", "messaging.destination.name": topic}
    with continued(traceparent, f"publish {event_type}", SpanKind.PRODUCER, **attributes):
        sent = current_traceparent() if traceparent else None
        yield [(TRACEPARENT, sent.encode())] if sent else []


@contextmanager
def consuming(
    consumer: str, topic: str, partition: int, headers: Sequence[tuple[str, bytes]]
) -> Iterator[Span]:
    """A consumer span, child of the message's traceparent header when it has one."""
    traceparent = next((v.decode(errors="replace") for k, v in headers if k == TRACEPARENT), None)
    with tracer.start_as_current_span(
        f"consume {topic}",
        context=_parent(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.consumer.group.name": consumer,
        },
    ) as span:
        yield span


def span(name: str, **attributes: str) -> AbstractContextManager[Span]:
    """A child span of the one in flight: `with telemetry.span(...)`."""
    return tracer.start_as_current_span(name, attributes=attributes)
