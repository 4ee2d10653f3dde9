"""The Delivery context's consumer of order and store events:
`python -m delivery_service.entrypoints.worker`."""

from __future__ import annotations

from delivery_service.bootstrap import bootstrap
from service_kit.worker import run_worker


def main() -> None:
    container = bootstrap()
    run_worker(container.settings, container.platform, container.bus)


if __name__ == "__main__":
    main()
