"""Kafka worker of the Kitchen context: `python -m store_service.entrypoints.worker`.

Order events open and cancel kitchen tickets; delivery events move the menu's stock."""

from __future__ import annotations

from service_kit.worker import run_worker
from store_service.bootstrap import bootstrap


def main() -> None:
    container = bootstrap()
    run_worker(container.settings, container.platform, container.bus)


if __name__ == "__main__":
    main()
