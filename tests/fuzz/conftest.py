"""The four services as real processes, and seeded data for requests to find: one
account per role (customer, store owner, rider), each acting with its bearer token."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from testkit import E2E_PORT_OFFSET, TEST_KAFKA_PORT, eventually, fresh_broker
from testkit.actors import Customer, Rider, StoreOwner
from testkit.launcher import System

REGION = "fuzzville"
# The role each service's routes need.
ROLE_OF = {
    "order-service": "customer",
    "mypage-service": "customer",
    "store-service": "owner",
    "delivery-service": "rider",
}


@dataclass(frozen=True)
class People:
    """The seeded accounts: their ids and `Authorization` headers, by role."""

    ids: dict[str, str]
    headers: dict[str, dict[str, str]]

    def of(self, service: str) -> dict[str, str]:
        """The header of the account whose role `service`'s routes need."""
        return self.headers[ROLE_OF[service]]


READ_TIMEOUT_S = 3  # short, so a test sees a half-sent request dropped


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # A broker and ports of its own: e2e uses +100, faults +200 and offset +500.
    broker = fresh_broker(TEST_KAFKA_PORT + 300)
    kafka = next(broker)
    running = System(
        tmp_path_factory.mktemp("fuzz-system"),
        kafka.bootstrap,
        port_offset=E2E_PORT_OFFSET + 1000,
        extra_env={"HTTP_READ_TIMEOUT_S": str(READ_TIMEOUT_S)},
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        next(broker, None)


@pytest.fixture(scope="package")
def world(system: System) -> tuple[dict[str, list[str]], People]:
    return asyncio.run(_seed(system))


@pytest.fixture(scope="package")
def seeded(world: tuple[dict[str, list[str]], People]) -> dict[str, list[str]]:
    """A store with one item, a placed order, and a cooking order offered to riders."""
    return world[0]


@pytest.fixture(scope="package")
def people(world: tuple[dict[str, list[str]], People]) -> People:
    return world[1]


async def _seed(system: System) -> tuple[dict[str, list[str]], People]:
    """A store with one item, a placed order, and a cooking order offered to riders."""
    async with httpx.AsyncClient(timeout=30) as http:
        owner = StoreOwner(http, system.endpoints, "fuzz-owner")
        customer = Customer(http, system.endpoints, "fuzz-customer")
        rider = Rider(http, system.endpoints, "fuzz-rider", region=REGION)
        assert (await owner.register_store("fuzz-store", "Fuzz Kitchen", REGION)).status_code == 200
        r = await owner.set_menu_item("fuzz-store", "fuzz-item", "Bibimbap", 9000, 1000)
        assert r.status_code == 200

        async def place() -> str | None:
            r = await customer.place_order("fuzz-store", [("fuzz-item", 1)], region=REGION)
            return r.json()["order_id"] if r.status_code == 201 else None

        placed = await eventually(place, within=60, what="the menu replica prices an order")
        cooking = await eventually(place, within=60, what="a second order")
        await eventually(
            lambda: owner.ticket_arrived("fuzz-store", cooking), within=60, what="the ticket"
        )
        assert (await owner.accept(cooking)).status_code == 200
        assert (await owner.start_cooking(cooking)).status_code == 200
        await eventually(lambda: rider.is_offered(REGION, cooking), within=60, what="the offer")
        await eventually(
            lambda: customer.status_page(placed), within=60, what="mypage knows the order"
        )
        actors = {"customer": customer, "owner": owner, "rider": rider}
        people = People(
            {role: a.id for role, a in actors.items()},
            {role: await a.auth_headers() for role, a in actors.items()},
        )
    ids = {"order_id": [placed, cooking], "store_id": ["fuzz-store"], "item_id": ["fuzz-item"]}
    return ids, people
