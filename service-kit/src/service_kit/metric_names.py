"""The metrics every API and worker exports on `/metrics` (Prometheus format): the one
list of names, labels, meanings and alert thresholds. The Grafana dashboard
(infra/observability/grafana), the README's table and the tests read it, so the
code that exports the metrics must use exactly these names.

Prometheus adds the `service` (e.g. order-service) and `process` (api|worker) labels
from its scrape configuration; the labels below are the ones the process sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "gauge", "histogram"]
    labels: tuple[str, ...]
    meaning: str
    alert: str  # when an operator is paged (PromQL-ish, over the scrape labels)


METRICS: tuple[Metric, ...] = (
    Metric(
        "fooddelivery_http_requests_total",
        "counter",
        ("method", "route", "status"),
        "HTTP requests answered by an API, by route template (never the raw path).",
        "5xx above 1% of requests of a route over 5 min",
    ),
    Metric(
        "fooddelivery_http_request_duration_seconds",
        "histogram",
        ("method", "route"),
        "Time to answer an HTTP request, by route template.",
        "p99 above 1 s over 5 min",
    ),
    Metric(
        "fooddelivery_outbox_backlog",
        "gauge",
        (),
        "Outbox rows committed but not yet published to Kafka.",
        "above 1000 for 5 min",
    ),
    Metric(
        "fooddelivery_outbox_oldest_unsent_age_seconds",
        "gauge",
        (),
        "Age of the oldest unsent outbox row (0 when none): how late events are.",
        "above 60 s for 5 min",
    ),
    Metric(
        "fooddelivery_consumer_lag",
        "gauge",
        ("topic", "partition"),
        "Messages of a partition the service's consumer group has not yet committed.",
        "above 1000 for 10 min, or not decreasing for 15 min",
    ),
    Metric(
        "fooddelivery_events_handled_total",
        "counter",
        ("event_type",),
        "Events a consumer applied (or skipped as a duplicate), by event type.",
        "none (rate for dashboards; compare with the producers' publish rate)",
    ),
    Metric(
        "fooddelivery_events_retried_total",
        "counter",
        ("event_type",),
        "Attempts of a handler that failed with a transient error and were retried.",
        "above 1/s for 10 min",
    ),
    Metric(
        "fooddelivery_events_parked_total",
        "counter",
        ("event_type",),
        "Events parked on the consumer's dead-letter topic (make dlq lists them).",
        "any increase (each one needs an operator: make dlq)",
    ),
    Metric(
        "fooddelivery_refunds_pending",
        "gauge",
        (),
        "Refunds order-service owes but has not yet completed with the card gateway.",
        "above 0 for 15 min",
    ),
    Metric(
        "fooddelivery_notifications_pending",
        "gauge",
        (),
        "KakaoTalk notifications mypage-service decided but has not yet sent.",
        "above 100 for 10 min",
    ),
    Metric(
        "fooddelivery_db_pool_in_use",
        "gauge",
        (),
        "Database connections checked out of the process's pool.",
        "above 90% of fooddelivery_db_pool_size for 5 min",
    ),
    Metric(
        "fooddelivery_db_pool_size",
        "gauge",
        (),
        "Connections the process's pool may hold (pool size plus overflow).",
        "none (the denominator of the pool use)",
    ),
)

NAMES: frozenset[str] = frozenset(m.name for m in METRICS)
