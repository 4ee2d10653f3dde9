"""The Ordering context's consumer of store events: `python -m order_service.entrypoints.worker`."""

from __future__ import annotations

from order_service.bootstrap import bootstrap
from service_kit.worker import run_worker


def main() -> None:
    container = bootstrap()
    run_worker(container.settings, container.platform, container.bus)


if __name__ == "__main__":
    main()
