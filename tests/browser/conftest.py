"""The whole system with its web app as real processes, driven by headless Chromium
(Debian's `chromium` and `chromium-driver`, installed by .ci/run; nothing downloaded
at test time). Screenshots of every page go to .local/screenshots/."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator

import pytest
from selenium import webdriver

from testkit import E2E_PORT_OFFSET, ROOT, TEST_KAFKA_PORT, fresh_broker
from testkit.browser import CHROMEDRIVER, CHROMIUM, Site, chromium
from testkit.launcher import System

SCREENSHOTS = ROOT / ".local" / "screenshots"
# Beside the e2e (+0) and fault (+500) systems; BROWSER_PORT_OFFSET / BROWSER_KAFKA_PORT
# move them (e.g. below the kernel's ephemeral port range on a busy machine).
PORT_OFFSET = int(os.environ.get("BROWSER_PORT_OFFSET", E2E_PORT_OFFSET + 1000))
KAFKA_PORT = int(os.environ.get("BROWSER_KAFKA_PORT", TEST_KAFKA_PORT + 300))


@pytest.fixture(scope="package")
def system(tmp_path_factory) -> Iterator[System]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("install Debian's chromium and chromium-driver (.ci/run does)")
    broker = fresh_broker(KAFKA_PORT)
    kafka = next(broker)
    running = System(
        tmp_path_factory.mktemp("browser-system"),
        kafka.bootstrap,
        port_offset=PORT_OFFSET,
        with_web=True,
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        next(broker, None)


@pytest.fixture(scope="package")
def drivers() -> Iterator[Callable[[], webdriver.Chrome]]:
    """Opens a browser of its own (own cookies) per person; all closed at the end."""
    opened: list[webdriver.Chrome] = []

    def open_browser() -> webdriver.Chrome:
        opened.append(chromium())
        return opened[-1]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield open_browser
    for driver in opened:
        driver.quit()


@pytest.fixture
def site(system: System, drivers) -> Callable[[], Site]:
    """`site()` is one person's browser on the web app."""
    return lambda: Site(drivers(), system.url("web"), SCREENSHOTS)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]
