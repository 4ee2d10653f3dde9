"""The whole system on a broker of its own, for tests that break things on purpose.

The broker is package-scoped and private: these tests stop it, and replay its
topics, which must never reach another suite's services. Whatever a test breaks
(the broker, a worker) the `faults` fixture puts back before the next test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from testkit import E2E_PORT_OFFSET, TEST_KAFKA_PORT, Faults, KafkaBroker, fresh_broker
from testkit.launcher import SERVICES, System

# The load driver lives with the benches; the tests import it from there.


# A SIGKILLed worker never leaves its consumer group: its partitions wait until the
# broker gives up on it (the session timeout, 10 s) before its restarted successor
# gets them; a heartbeat a second tells the live workers of a rebalance sooner. That
# keeps the fault tests short; what they prove does not depend on it.
FAST_GROUP_RECOVERY = {
    "CONSUMER_SESSION_TIMEOUT_MS": "6000",
    "CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
}
# A worker's batch holds up to 200 events; the faults' backlogs (a few hundred) are
# taken in several batches at 50, so a kill can fall between two of them.
SMALL_BATCHES = {"CONSUMER_BATCH_MAX": "50"}


@pytest.fixture(scope="package")
def kafka() -> Iterator[KafkaBroker]:
    yield from fresh_broker(TEST_KAFKA_PORT + 200)


@pytest.fixture(scope="package")
def system(
    request: pytest.FixtureRequest, kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """On SQLite; FAULTS_DATABASE=postgresql runs the same faults on PostgreSQL."""
    urls: dict[str, str] = {}
    if os.environ.get("FAULTS_DATABASE") == "postgresql":
        postgres = request.getfixturevalue("postgres")
        urls = {s.name: postgres.reset(f"faults_{s.package}") for s in SERVICES}
    running = System(
        tmp_path_factory.mktemp("faults-system"),
        kafka.bootstrap,
        # Beside the e2e package's system, which may still be up: never share a port.
        port_offset=E2E_PORT_OFFSET + 500,
        database_urls=urls,
        extra_env=FAST_GROUP_RECOVERY | SMALL_BATCHES,
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def faults(kafka: KafkaBroker, system: System) -> Iterator[Faults]:
    """Stop the broker, kill workers; afterwards the broker runs and every worker too."""
    injected = Faults(kafka, system)
    try:
        yield injected
    finally:
        injected.restore()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    from testkit.load import client

    async with client() as http:
        yield http
