"""Kafka worker of the Customer context: projects every event of an order (order,
store and delivery topics) onto the read model, deciding the customer's messages
in the same transactions; the API process's dispatcher sends them."""

from __future__ import annotations

from mypage_service.bootstrap import bootstrap
from service_kit.worker import run_worker


def main() -> None:
    container = bootstrap()
    run_worker(container.settings, container.platform, container.bus)


if __name__ == "__main__":
    main()
