"""`REPLICAS=2` on PostgreSQL: two APIs and two workers per service. Mid-load, the
relay lease holder (an API) of each service and one worker of each service are
SIGKILLed. The other API takes the lease over and publishes what the dead one left
(in commit order), the surviving worker takes the dead one's partitions, and every
order ends as its story says: 0 lost, 0 duplicated. Prints the figures, with the
relay hand-over time per service (from the kill to the new holder's first publish,
by its log line).

The clients reach the APIs through a failover transport (as a load balancer would
route around a dead pod): a refused connection goes to the other replica."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import pytest

from testkit import E2E_PORT_OFFSET, TEST_KAFKA_PORT, KafkaBroker, fresh_broker
from testkit.actors import wait_for
from testkit.checks import check_topics, converge, fault_report, published
from testkit.launcher import ALL_SERVICES, SERVICES, System
from testkit.load import Driver
from testkit.world import World

from .conftest import FAST_GROUP_RECOVERY

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

ORDERS = int(os.environ.get("FAULTS_REPLICA_ORDERS", "30"))
REPLICAS = 2
# The new holder's log lines (service_kit.lease): the lease taken, its first publish.
TAKEN, FIRST_PUBLISH = "taken: this process publishes", "first publish as the holder"
# mypage-service is a read model: it publishes no events, so its hand-over is the
# lease taken; the others' is their first publish.
PUBLISHES = {"order-service", "store-service", "delivery-service"}


@pytest.fixture(scope="module")
def replica_kafka() -> Iterator[KafkaBroker]:
    """A broker of its own: these workers' consumer groups are the services' names,
    which the package's system (maybe up) uses on its broker."""
    yield from fresh_broker(TEST_KAFKA_PORT + 250)


@pytest.fixture(scope="module")
def replicated(replica_kafka, postgres, tmp_path_factory) -> Iterator[System]:
    urls = {s.name: postgres.reset(f"replicas_{s.package}") for s in ALL_SERVICES}
    system = System(
        tmp_path_factory.mktemp("replicas-system"),
        replica_kafka.bootstrap,
        port_offset=E2E_PORT_OFFSET + 700,  # beside the faults package's system
        database_urls=urls,
        extra_env=FAST_GROUP_RECOVERY,
        replicas=REPLICAS,
    )
    try:
        system.start(timeout=180)
        yield system
    finally:
        system.stop()


class Failover(httpx.AsyncHTTPTransport):
    """A refused connection to one API replica is sent to its siblings instead."""

    def __init__(self, siblings: dict[int, list[int]], **kwargs) -> None:
        super().__init__(**kwargs)
        self._siblings = siblings

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port or 0
        ports = [port, *self._siblings.get(port, [])]
        for n, other in enumerate(ports):
            request.url = request.url.copy_with(port=other)
            request.headers["Host"] = f"{request.url.host}:{other}"
            try:
                return await super().handle_async_request(request)
            except httpx.ConnectError:
                if n == len(ports) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture
async def http(replicated) -> AsyncIterator[httpx.AsyncClient]:
    siblings: dict[int, list[int]] = {}
    for spec in SERVICES:
        ports = [urlsplit(replicated.url(spec.name, k)).port for k in range(REPLICAS)]
        for port in ports:
            siblings[port] = [p for p in ports if p != port]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=1)
    transport = Failover(siblings, limits=limits)
    async with httpx.AsyncClient(timeout=30, transport=transport) as client:
        yield client


async def lease_holders(system: System, service: str) -> list[int]:
    """The replicas whose API says it holds the service's relay lease now."""
    held = []
    async with httpx.AsyncClient(timeout=5) as client:
        for k in range(REPLICAS):
            name = system.process_name(system.spec(service), "api", k)
            if name not in system.processes:
                continue
            try:
                text = (await client.get(f"{system.url(service, k)}/metrics")).text
            except httpx.HTTPError:
                continue
            if re.search(r"^fooddelivery_relay_lease_held 1\.0$", text, re.M):
                held.append(k)
    return held


def logged_at(
    system: System, service: str, replica: int, marker: str, after: float
) -> float | None:
    """When the replica's API first logged `marker` after `after` (epoch seconds)."""
    name = system.process_name(system.spec(service), "api", replica)
    path = system.log_dir / f"{name}.log"
    for line in path.read_text(errors="replace").splitlines():
        if marker not in line:
            continue
        entry = json.loads(line)
        at = datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if at >= after:
            return at
    return None


@pytest.mark.timeout(900)
async def test_killing_each_relay_holder_and_a_worker_mid_load_loses_and_doubles_nothing(
    http, replicated
):
    system = replicated
    world = World(http, system.endpoints)
    await world.open_stores(2)
    plans = world.plan(ORDERS)
    other = system.endpoints_of(1)
    for plan in plans[1::2]:  # half the customers and riders use the other replica
        plan.customer.at = plan.rider.at = other
    driver = Driver(world, concurrency=8, step_timeout=300)
    holders: dict[str, int] = {}
    for spec in SERVICES:
        found = await wait_for(
            lambda s=spec.name: lease_holders(system, s), within=60, what=f"{spec.name} holder"
        )
        assert len(found) == 1, f"{spec.name}: {found} hold the lease"
        holders[spec.name] = found[0]
    kills: dict[str, dict] = {}

    async def kill_mid_load() -> None:
        await wait_for(
            lambda: _true(driver.placed >= ORDERS // 3), within=600, what="orders under way"
        )
        for spec in SERVICES:
            holder = holders[spec.name]
            worker = 1 - holder  # each replica loses one process
            killed_at = time.time()
            system.stop_process(system.process_name(spec, "api", holder), sig=signal.SIGKILL)
            system.stop_process(system.process_name(spec, "worker", worker), sig=signal.SIGKILL)
            kills[spec.name] = {"api": holder, "worker": worker, "at": killed_at}

    await asyncio.gather(driver.run(plans), kill_mid_load())
    failed = [f"{p.scenario.name} {p.order_id}: {p.error}" for p in plans if p.error]

    verdict = await converge(world, within=300)
    records = await published(world, system.bootstrap)
    copies = check_topics(world, records, verdict)["extra_copies"]
    handover: dict[str, dict[str, float | None]] = {}
    for spec in SERVICES:
        survivor, killed_at = 1 - kills[spec.name]["api"], kills[spec.name]["at"]
        assert await lease_holders(system, spec.name) == [survivor], f"{spec.name} lease"
        handover[spec.name] = {
            what: (round(at - killed_at, 2) if at else None)
            for what, marker in (("lease_taken_s", TAKEN), ("first_publish_s", FIRST_PUBLISH))
            for at in [logged_at(system, spec.name, survivor, marker, killed_at)]
        }
    print(
        f"\nreplicas: {verdict.orders} orders | lost {len(verdict.lost)} "
        f"| duplicated {len(verdict.duplicated)} | relay hand-over after the kill: "
        + "; ".join(
            f"{s} lease taken {h['lease_taken_s']} s, first publish {h['first_publish_s']} s"
            for s, h in handover.items()
        )
    )
    fault_report(
        "replicas",
        "REPLICAS=2 on PostgreSQL; each relay lease holder and one worker per service SIGKILLed",
        verdict,
        relay_handover=handover,
        kills={s: {"api": k["api"], "worker": k["worker"]} for s, k in kills.items()},
        failed_orders=failed,
        extra_event_copies_on_topics=copies,
        transport_retries=driver.transport_retries,
    )
    assert failed == []
    assert verdict.clean, verdict.row()["problems"]
    assert all(h["lease_taken_s"] is not None for h in handover.values()), handover
    assert all(handover[s]["first_publish_s"] is not None for s in PUBLISHES), handover


async def _true(value: bool) -> bool:
    return value
