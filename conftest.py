"""Fixtures shared by every test suite: the real Kafka broker and PostgreSQL server.

The test broker runs on its own port with a fresh data folder per session, so
`make test` never disturbs a `make run` on 9092. Fixtures start what they need.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import POSTGRES_SH, TEST_KAFKA_PORT, KafkaBroker, PostgresServer, fresh_broker


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    yield from fresh_broker(TEST_KAFKA_PORT)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Installs PostgreSQL from Debian's packages when absent, and starts it; a server
    this session started is stopped at its end."""
    was_running = subprocess.run([str(POSTGRES_SH), "status"], capture_output=True).returncode == 0
    subprocess.run([str(POSTGRES_SH), "up"], check=True)
    yield PostgresServer()
    if not was_running:
        subprocess.run([str(POSTGRES_SH), "down"], check=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One fresh, empty database on each backend the services support."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    # One scratch database per suite, so suites never share tables.
    suite = next(
        (part for part in request.node.path.parts if part.endswith(("-service", "-events"))),
        "tests",
    )
    return server.reset(f"test_{suite.replace('-', '_')}")
