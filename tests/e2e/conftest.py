"""The whole system as real processes on a test broker, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from service_kit.telemetry import TRACE_DIR_ENV
from testkit import E2E_PORT_OFFSET, TEST_KAFKA_PORT, fresh_broker
from testkit.actors import Actor, Customer, StoreOwner
from testkit.launcher import SERVICES, System

DATABASES = {s.name: s.package for s in SERVICES}


@pytest.fixture(scope="package")
def kafka() -> Iterator:
    """The system gets a broker of its own: the plumbing tests publish events of orders
    no service knows, which its workers would otherwise read (and park) first."""
    yield from fresh_broker(TEST_KAFKA_PORT + 100)


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def system(request: pytest.FixtureRequest, kafka, tmp_path_factory) -> Iterator[System]:
    urls: dict[str, str] = {}
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres")
        urls = {name: postgres.reset(database) for name, database in DATABASES.items()}
    data_dir = tmp_path_factory.mktemp(f"system-{request.param}")
    running = System(
        data_dir,
        kafka.bootstrap,
        port_offset=E2E_PORT_OFFSET,
        database_urls=urls,
        # Every process writes its spans to a file there (test_tracing.py reads them).
        extra_env={TRACE_DIR_ENV: str(data_dir / "traces")},
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def ids() -> dict[str, str]:
    """Fresh names per test, so tests never see each other's stores or customers."""
    tag = uuid.uuid4().hex[:8]
    return {
        "store": f"store-{tag}",
        "item": f"item-{tag}",
        "owner": f"owner-{tag}",
        "customer": f"customer-{tag}",
    }


@pytest.fixture
async def http() -> Iterator[httpx.AsyncClient]:
    # Idle connections are dropped before uvicorn closes them (5 s), never reused mid-close.
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(keepalive_expiry=1)) as client:
        yield client


@pytest.fixture
async def people(http, system: System, ids: dict[str, str]) -> dict[str, Actor]:
    """The test's store owner and customer, signed up at identity-service; `ids` then
    names them by account id (the token's `sub`, the actor id every service sees)."""
    owner = StoreOwner(http, system.endpoints, ids["owner"])
    customer = Customer(http, system.endpoints, ids["customer"])
    ids["owner"], ids["customer"] = await owner.sign_up(), await customer.sign_up()
    return {"owner": owner, "customer": customer}
