"""Every service's OpenAPI, fuzzed by schemathesis against the real processes.

One actor plays every role (customer, store owner, rider), and the path and query
parameters are drawn mostly from seeded ids (a store, a menu item, orders and a
delivery), so the generated requests get past 401/403/404 into the handlers.
The run is bounded: a fixed seed and tens of examples per operation. It fails on
any 5xx, any status or content type the OpenAPI does not declare, and any body
that does not match its declared schema.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit import E2E_PORT_OFFSET, TEST_KAFKA_PORT, eventually, fresh_broker
from testkit.actors import Customer, Rider, StoreOwner
from testkit.launcher import SERVICES, System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ACTOR = "fuzz-actor"
REGION = "fuzzville"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
SEED = 20261129
MAX_EXAMPLES = 25
# Seeded ids are drawn this often; the rest are generated (unknown ids, bad patterns).
SEEDED = 0.8


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # A broker and ports of its own: e2e uses +100, faults +200 and offset +500.
    broker = fresh_broker(TEST_KAFKA_PORT + 300)
    kafka = next(broker)
    running = System(
        tmp_path_factory.mktemp("fuzz-system"), kafka.bootstrap, port_offset=E2E_PORT_OFFSET + 1000
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        next(broker, None)


@pytest.fixture(scope="module")
def seeded(system: System) -> dict[str, list[str]]:
    return asyncio.run(_seed(system))


async def _seed(system: System) -> dict[str, list[str]]:
    """A store with one item, a placed order, and a cooking order offered to riders."""
    async with httpx.AsyncClient(timeout=30) as http:
        owner = StoreOwner(http, system.endpoints, ACTOR)
        customer = Customer(http, system.endpoints, ACTOR)
        rider = Rider(http, system.endpoints, ACTOR)
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
    return {"order_id": [placed, cooking], "store_id": ["fuzz-store"], "item_id": ["fuzz-item"]}


def _config(seeded: dict[str, list[str]], path: Path) -> Path:
    """A schemathesis.toml binding parameters to dictionaries of seeded values."""
    values = {**seeded, "customer_id": [ACTOR], "region": [REGION]}
    lines = [f'headers = {{ "X-Actor-Id" = "{ACTOR}" }}', ""]
    for name, found in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(found)}", ""]
    lines.append("[parameters]")
    for name in seeded.keys() | {"customer_id"}:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {SEEDED} }}')
    lines.append(f'"query.region" = {{ dictionary = "region", probability = {SEEDED} }}')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_openapi_holds_under_fuzzing(
    service: str, system: System, seeded: dict[str, list[str]], tmp_path: Path
) -> None:
    config = _config(seeded, tmp_path / "schemathesis.toml")
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
            f"{system.url(service)}/openapi.json",
            *("--checks", CHECKS),
            *("--phases", "examples,coverage,fuzzing"),
            *("--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES)),
            *("--workers", "1", "--request-timeout", "20", "--no-shrink"),
            *("--suppress-health-check", "all", "--continue-on-failure"),
            *("--report", "json", "--report-json-path", str(report)),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,  # its cache folder stays out of the repository
    )
    summary = _summary(service, json.loads(report.read_text()))
    print(summary)  # the counts the issue asks for: `pytest -s tests/fuzz` shows them
    assert run.returncode == 0, f"{summary}\n{run.stdout[-8000:]}"


def _summary(service: str, report: dict) -> str:
    per_check = {f["title"]: f["count"] for f in report["failures"]} or "none"
    return (
        f"{service}: {report['operations']['tested']} operations, "
        f"{report['test_cases']['generated']} requests, failures per check: {per_check}, "
        f"errors: {len(report['errors'])}"
    )
