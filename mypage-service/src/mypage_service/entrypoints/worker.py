"""Kafka worker of the Customer context: projects order events onto the read model."""

from __future__ import annotations

from mypage_service.bootstrap import bootstrap
from mypage_service.service_layer.messagebus import subscribed_topics
from shared_events.faust_worker import run_worker


def main() -> None:
    container = bootstrap()
    run_worker(container.settings, container.platform, container.bus, subscribed_topics())


if __name__ == "__main__":
    main()
