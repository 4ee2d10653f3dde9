"""Every protected route of every service, on the real processes, refuses what it must:
no token, a garbage token, an expired one (signed with the issuer's real key), a real
token of the wrong role (401, 401, 401, 403) and a real token of another person of
the right role (403), and nothing changes: no row, no outbox entry, no event.

The routes come from each running service's OpenAPI (a route needing a token lists
its roles as the bearer scopes), so a new route is in the matrix without a word here;
only a route with a body needs a valid one below, so the refusal is about the token.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import create_async_engine

from identity_service.adapters.keys import load_signing_key
from service_kit.snapshot import end_offsets
from shared_events.topics import EVENT_TOPICS
from testkit import eventually
from testkit.actors import Actor, Customer, Rider, StoreOwner
from testkit.launcher import ALL_SERVICES, SERVICES, System

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

# Routes any person of the role may use: there is no owner to be "another person" of.
# (A pick of a delivery another rider already picked is a 409 on its state.)
OPEN_TO_THE_ROLE = {
    ("POST", "/orders"),
    ("GET", "/deliveries"),
    ("GET", "/deliveries/{order_id}"),
    ("PUT", "/deliveries/{order_id}/pick"),
}
EXPECTED = {"none": 401, "garbage": 401, "expired": 401, "wrong role": 403, "other person": 403}


class World:
    """Two people of each role; A's store, order (cooking) and delivery (picked by A)."""

    def __init__(self, http: httpx.AsyncClient, system: System) -> None:
        tag = uuid.uuid4().hex[:8]
        self.http, self.system, self.tag = http, system, tag
        self.region, self.store, self.item = f"matrix-{tag}", f"matrix-{tag}", f"dish-{tag}"
        at = system.endpoints
        self.people: dict[str, tuple[Actor, Actor]] = {
            "customer": (Customer(http, at, f"mc-a-{tag}"), Customer(http, at, f"mc-b-{tag}")),
            "owner": (StoreOwner(http, at, f"mo-a-{tag}"), StoreOwner(http, at, f"mo-b-{tag}")),
            "rider": (
                Rider(http, at, f"mr-a-{tag}", region=self.region),
                Rider(http, at, f"mr-b-{tag}", region=self.region),
            ),
        }
        self.order_id = ""

    async def build(self) -> None:
        for a, b in self.people.values():
            await a.sign_up()
            await b.sign_up()
        owner, customer, rider = (self.people[r][0] for r in ("owner", "customer", "rider"))
        assert isinstance(owner, StoreOwner) and isinstance(customer, Customer)
        assert isinstance(rider, Rider)
        assert (await owner.register_store(self.store, "Matrix", self.region)).status_code == 200
        r = await owner.set_menu_item(self.store, self.item, "Bibimbap", 9000, 50)
        assert r.status_code == 200, r.text

        async def place() -> str | None:
            r = await customer.place_order(self.store, [(self.item, 1)], region=self.region)
            return r.json()["order_id"] if r.status_code == 201 else None

        self.order_id = await eventually(place, within=60, what="the menu replica")
        await eventually(lambda: owner.ticket_arrived(self.store, self.order_id), within=60)
        assert (await owner.accept(self.order_id)).status_code == 200
        assert (await owner.start_cooking(self.order_id)).status_code == 200
        await eventually(lambda: rider.is_offered(None, self.order_id), within=60)
        assert (await rider.pick(self.order_id)).status_code == 200

        async def settled() -> bool:  # the last event (FoodPicked) has reached mypage
            page = await customer.status_page(self.order_id)
            return page is not None and page["status"] == "PICKED"

        await eventually(settled, within=60, what="mypage shows PICKED")

    def path_values(self) -> dict[str, str]:
        customer = self.people["customer"][0]
        return {
            "order_id": self.order_id,
            "store_id": self.store,
            "item_id": self.item,
            "customer_id": customer.id,
            "region": self.region,
        }

    def body(self, method: str, path: str) -> dict[str, Any] | None:
        """A valid body for each route that takes one: the refusal is about the token."""
        return {
            ("POST", "/orders"): {
                "store_id": self.store,
                "items": [{"menu_item_id": self.item, "quantity": 1}],
                "delivery_address": {"line": "1 Matrix-ro", "region": self.region},
                "phone": "010-1234-5678",
                "payment": {"card_token": "tok_ok"},
            },
            ("PUT", "/stores/{store_id}"): {"name": "Taken Over", "region": self.region},
            ("PUT", "/stores/{store_id}/menu/{item_id}"): {"name": "X", "price": 1, "stock": 1},
            ("PUT", "/store-orders/{order_id}/acceptance"): {"accepted": False, "reason": "no"},
            ("PUT", "/deliveries/{order_id}/return"): {"reason": "not mine"},
        }.get((method, path))

    def expired_token(self, role: str) -> str:
        """A token exactly like the issuer's, signed with its real key, but expired."""
        key = load_signing_key(
            self.system.data_dir / "db" / "identity-signing-key.pem", create=False
        )
        now = int(time.time())
        subject = self.people[role][0]
        claims = {
            "iss": self.system.url("identity-service"),
            "aud": "fooddelivery",
            "sub": subject.id,
            "role": role,
            "iat": now - 7200,
            "exp": now - 3600,
            "jti": uuid.uuid4().hex,
        }
        if role == "rider":
            claims["region"] = self.region
        return key.sign(claims)

    async def headers(self, case: str, role: str) -> dict[str, str]:
        if case == "none":
            return {}
        if case == "garbage":
            return {"Authorization": "Bearer not.a-token"}
        if case == "expired":
            return {"Authorization": f"Bearer {self.expired_token(role)}"}
        if case == "wrong role":
            other_role = next(r for r in self.people if r != role)
            return await self.people[other_role][0].auth_headers()
        return await self.people[role][1].auth_headers()  # another person, right role


async def protected_routes(http: httpx.AsyncClient, system: System) -> list[tuple]:
    """(service, method, path, role, operation) of every route that needs a token."""
    found = []
    for spec in ALL_SERVICES:
        schema = (await http.get(f"{system.url(spec.name)}/openapi.json")).json()
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                needs = [s["bearer"] for s in operation.get("security", []) if "bearer" in s]
                if needs:
                    [roles] = needs
                    assert len(roles) == 1, f"{method} {path}: one role per route, got {roles}"
                    found.append((spec.name, method.upper(), path, roles[0], operation))
    return found


async def snapshot(system: System) -> dict[str, Any]:
    """A digest of every table of every service, and the end offset of every topic."""
    digests: dict[str, Any] = {}
    for spec in ALL_SERVICES:
        engine = create_async_engine(system.database_url(spec.name))
        try:
            async with engine.connect() as connection:
                metadata = MetaData()
                await connection.run_sync(metadata.reflect)
                for table in metadata.sorted_tables:
                    rows = (await connection.execute(select(table).order_by(*table.c))).all()
                    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
                    digests[f"{spec.name}.{table.name}"] = (len(rows), digest)
        finally:
            await engine.dispose()
    offsets = await end_offsets(system.bootstrap, list(EVENT_TOPICS))
    digests["topics"] = sorted((tp.topic, tp.partition, end) for tp, end in offsets.items())
    return digests


# Access is the same on either database: the SQLite system is enough.
@pytest.mark.parametrize("system", ["sqlite"], indirect=True)
async def test_every_protected_route_refuses_every_wrong_token_and_changes_nothing(http, system):
    world = World(http, system)
    await world.build()
    routes = await protected_routes(http, system)
    assert {service for service, *_ in routes} == {s.name for s in SERVICES}

    # Settled: the same snapshot twice in a row (relays and consumers have caught up).
    previous: list[dict[str, Any]] = [await snapshot(system)]

    async def steady() -> bool:
        current = await snapshot(system)
        same, previous[0] = current == previous[0], current
        return same

    await eventually(steady, within=60, interval=1, what="a quiet system")
    before = previous[0]

    values = world.path_values()
    answers: Counter[tuple[str, int]] = Counter()
    wrong: list[str] = []
    for service, method, path, role, operation in routes:
        url = system.url(service) + path.format(**values)
        params = {
            p["name"]: values[p["name"]]
            for p in operation.get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }
        body = world.body(method, path)
        assert ("requestBody" in operation) == (body is not None), f"a body for {method} {path}"
        for case, expected in EXPECTED.items():
            if case == "other person" and (method, path) in OPEN_TO_THE_ROLE:
                answers[(case, 0)] += 1  # not applicable: anyone of the role may
                continue
            headers = await world.headers(case, role)
            r = await http.request(method, url, headers=headers, params=params, json=body)
            answers[(case, r.status_code)] += 1
            if r.status_code != expected:
                wrong.append(f"{case}: {method} {path} -> {r.status_code} {r.text[:120]}")
            elif expected == 401:
                assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)

    # The header anyone can type is no credential at all.
    forged = await http.delete(
        f"{system.url('order-service')}/orders/{world.order_id}",
        headers={"X-Actor-Id": world.people["customer"][0].id},
    )
    answers[("X-Actor-Id", forged.status_code)] += 1

    after = await snapshot(system)
    print(f"\naccess matrix over {len(routes)} protected routes:")
    for (case, status), count in sorted(answers.items()):
        print(f"  {case:<13} {'n/a' if status == 0 else status}: {count}")
    assert not wrong, "\n".join(wrong)
    assert forged.status_code == 401
    changed = [name for name in before if before[name] != after.get(name)]
    assert not changed, f"changed by refused requests: {changed}"
