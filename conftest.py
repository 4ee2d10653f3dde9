"""Fixtures shared by every test suite: the real Kafka broker and PostgreSQL server.

The test broker runs on its own port with a fresh data folder per session, so
`make test` never disturbs a `make run` on 9092. Fixtures start what they need.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
KAFKA_SH = ROOT / "infra" / "kafka" / "kafka.sh"
POSTGRES_SH = ROOT / "infra" / "postgres" / "postgres.sh"
TEST_KAFKA_PORT = int(os.environ.get("TEST_KAFKA_PORT", "19092"))


@dataclass
class KafkaBroker:
    port: int
    home: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_HOME": str(self.home)}
        subprocess.run([str(KAFKA_SH), command], check=True, env=env)

    def start(self) -> None:
        self._run("up")

    def stop(self) -> None:
        self._run("down")


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    import asyncio

    from shared_events.topics_cli import ensure_topics

    home = ROOT / ".local" / f"kafka-test-{TEST_KAFKA_PORT}"
    broker = KafkaBroker(TEST_KAFKA_PORT, home)
    broker.stop()
    shutil.rmtree(home, ignore_errors=True)  # every session starts from an empty broker
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap))
    yield broker
    broker.stop()


@dataclass
class PostgresServer:
    def url(self, database: str) -> str:
        return subprocess.run(
            [str(POSTGRES_SH), "url", database], check=True, capture_output=True, text=True
        ).stdout.strip()

    def reset(self, database: str) -> str:
        subprocess.run([str(POSTGRES_SH), "reset", database], check=True, capture_output=True)
        return self.url(database)


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
