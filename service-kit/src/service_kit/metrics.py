"""Prometheus metrics of every API and worker, named as `metric_names.METRICS` says.

Counters and the request histogram move as work happens; the gauges that are a
state of the database (outbox backlog, pending refunds and notifications) or of
the process (pool, consumer lag) are read when `/metrics` is scraped, so nothing
polls for them in between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from service_kit.metric_names import METRICS
from service_kit.tables import outbox
from shared_events.envelope import utcnow


def _declared(name: str, kind: str) -> tuple[str, str, tuple[str, ...]]:
    """Name, help and labels of a metric as metric_names.py declares it."""
    spec = next(m for m in METRICS if m.name == name)
    assert spec.kind == kind, f"{name} is a {spec.kind}"
    return spec.name, spec.meaning, spec.labels


# Each section below declares the metrics its code moves or reads.

# What a scrape refreshes first: a gauge and how to read its value now.
Reading = Callable[[], Awaitable[float]]


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


async def refresh(readings: Mapping[Gauge, Reading]) -> None:
    for gauge, read in readings.items():
        gauge.set(await read())


# ------------------------------------------------------------------ consumer side

CONSUMER_LAG = Gauge(*_declared("fooddelivery_consumer_lag", "gauge"))
EVENTS_HANDLED = Counter(*_declared("fooddelivery_events_handled_total", "counter"))
EVENTS_RETRIED = Counter(*_declared("fooddelivery_events_retried_total", "counter"))
EVENTS_PARKED = Counter(*_declared("fooddelivery_events_parked_total", "counter"))


def event_outcome(status: str, event_type: str | None, retries: int) -> None:
    """Count what the consumer did with one message (consumer.Outcome.status)."""
    kind = event_type or "unknown"
    if retries:
        EVENTS_RETRIED.labels(kind).inc(retries)
    if status in ("applied", "duplicate"):
        EVENTS_HANDLED.labels(kind).inc()
    elif status == "dead-lettered":
        EVENTS_PARKED.labels(kind).inc()


def consumer_lag(lags: Mapping[tuple[str, int], int]) -> None:
    CONSUMER_LAG.clear()  # partitions this worker no longer owns are not reported
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(topic, str(partition)).set(lag)


# ------------------------------------------------------------------ database

DB_POOL_IN_USE = Gauge(*_declared("fooddelivery_db_pool_in_use", "gauge"))
DB_POOL_SIZE = Gauge(*_declared("fooddelivery_db_pool_size", "gauge"))


def pool_readings(engine: AsyncEngine) -> dict[Gauge, Reading]:
    pool = engine.sync_engine.pool

    async def in_use() -> float:
        checkedout = getattr(pool, "checkedout", None)
        return float(checkedout()) if checkedout else 0.0

    async def size() -> float:
        size, overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", 0)
        return float(size() + max(overflow, 0)) if size else 0.0

    return {DB_POOL_IN_USE: in_use, DB_POOL_SIZE: size}


# A service's pending work, each read by a row_count its bootstrap registers.
REFUNDS_PENDING = Gauge(*_declared("fooddelivery_refunds_pending", "gauge"))
NOTIFICATIONS_PENDING = Gauge(*_declared("fooddelivery_notifications_pending", "gauge"))


def row_count(
    sessions: async_sessionmaker[AsyncSession], table: Table, *where: ColumnElement[bool]
) -> Reading:
    """How many rows of a table are in a state: a service's pending work."""

    async def count() -> float:
        async with sessions() as session:
            query = select(func.count()).select_from(table).where(*where)
            return float((await session.execute(query)).scalar_one())

    return count


OUTBOX_BACKLOG = Gauge(*_declared("fooddelivery_outbox_backlog", "gauge"))
OUTBOX_OLDEST_AGE = Gauge(*_declared("fooddelivery_outbox_oldest_unsent_age_seconds", "gauge"))
RELAY_LEASE_HELD = Gauge(*_declared("fooddelivery_relay_lease_held", "gauge"))


def outbox_readings(sessions: async_sessionmaker[AsyncSession]) -> dict[Gauge, Reading]:
    state: dict[str, float] = {}

    async def backlog() -> float:
        async with sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        state["age"] = _age(oldest)
        return float(count)

    async def oldest_age() -> float:  # read with the backlog, one query for both
        return state.get("age", 0.0)

    return {OUTBOX_BACKLOG: backlog, OUTBOX_OLDEST_AGE: oldest_age}


def _age(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands naive UTC back
        oldest = oldest.replace(tzinfo=utcnow().tzinfo)
    return max((utcnow() - oldest).total_seconds(), 0.0)


# ------------------------------------------------------------------ HTTP side

HTTP_REQUESTS = Counter(*_declared("fooddelivery_http_requests_total", "counter"))
HTTP_DURATION = Histogram(*_declared("fooddelivery_http_request_duration_seconds", "histogram"))


# The labelled children by (method, route, status): a request finds its two series in
# one dict lookup instead of two `labels()` calls (each a lock and a tuple of strings).
_REQUEST_SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def request_done(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request and its latency by route template (never the raw
    path, whose ids would make a series per order). `status` is 500 when the app
    raised before answering: what the client sees. Called by the edge (http.Edge)."""
    method, route = scope["method"], _route(scope)
    series = _REQUEST_SERIES.get((method, route, status))
    if series is None:
        series = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
        _REQUEST_SERIES[(method, route, status)] = series
    series[0].inc()
    series[1].observe(seconds)


def _route(scope: Scope) -> str:
    # The router leaves the route it chose in the scope, instead of matching every
    # route of the app per request. A route with methods chose it if it takes the
    # request's (a 405's partial match does not); another kind is matched once more.
    chosen = scope.get("route")
    if chosen is not None:
        methods = getattr(chosen, "methods", None)
        if methods is not None:
            if scope["method"] in methods:
                return str(getattr(chosen, "path", "<unnamed>"))
        elif chosen.matches(scope)[0] == Match.FULL:
            return str(getattr(chosen, "path", "<unnamed>"))
    for route in iter_route_contexts(scope["app"].router.routes):  # included routers too
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "<unnamed>"))
    return "<unmatched>"


def metrics_endpoint(
    readings: Callable[[], Mapping[Gauge, Reading]],
) -> Callable[[Request], Awaitable[Response]]:
    async def scrape(_: Request) -> Response:
        await refresh(readings())
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return scrape


__all__ = [
    "Gauge",
    "consumer_lag",
    "event_outcome",
    "exposition",
    "metrics_endpoint",
    "outbox_readings",
    "pool_readings",
    "refresh",
    "request_done",
    "row_count",
]
