"""Every service's OpenAPI, fuzzed by schemathesis against the real processes.

Each service is called with the token of the role its routes need, and the path and query
parameters are drawn mostly from seeded ids (a store, a menu item, orders and a
delivery), so the generated requests get past 401/403/404 into the handlers.
The run is bounded: a fixed seed and tens of examples per operation. It fails on
any 5xx, any status or content type the OpenAPI does not declare, and any body
that does not match its declared schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.launcher import SERVICES, System

from .conftest import REGION, People

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
SEED = 20261129
MAX_EXAMPLES = 20
# Seeded ids are drawn this often; the rest are generated (unknown ids, bad patterns).
SEEDED = 0.8


def _config(seeded: dict[str, list[str]], people: People, service: str, path: Path) -> Path:
    """A schemathesis.toml binding parameters to dictionaries of seeded values, and
    sending the bearer token of the role `service` needs."""
    values = {**seeded, "customer_id": [people.ids["customer"]], "region": [REGION]}
    lines = [f"headers = {json.dumps(people.of(service))}".replace('":', '" ='), ""]
    for name, found in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(found)}", ""]
    lines.append("[parameters]")
    for name in seeded.keys() | {"customer_id"}:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {SEEDED} }}')
    lines.append(f'"query.region" = {{ dictionary = "region", probability = {SEEDED} }}')
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Run:
    returncode: int
    output: str
    report: dict


@pytest.fixture(scope="module")
def runs(
    system: System,
    seeded: dict[str, list[str]],
    people: People,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Run]:
    """One schemathesis run per service, all four at once: each mostly waits on its
    service, so together they take about as long as the longest."""
    folder = tmp_path_factory.mktemp("schemathesis")
    started = {}
    for spec in SERVICES:
        config = _config(seeded, people, spec.name, folder / f"{spec.name}.toml")
        out = open(folder / f"{spec.name}.out", "w")
        started[spec.name] = subprocess.Popen(
            [
                *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
                f"{system.url(spec.name)}/openapi.json",
                *("--checks", CHECKS),
                *("--phases", "examples,coverage,fuzzing"),
                *("--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES)),
                *("--workers", "1", "--request-timeout", "20", "--no-shrink"),
                *("--suppress-health-check", "all", "--continue-on-failure"),
                # A Server-Sent Events stream stays open by design: it has its own tests
                # (mypage-service/tests/integration/test_stream.py, tests/browser).
                *("--exclude-path-regex", "/stream$"),
                *("--report", "json", "--report-json-path", str(folder / f"{spec.name}.json")),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,  # its cache folder stays out of the repository
        )
        out.close()
    done = {}
    for name, process in started.items():
        returncode = process.wait(timeout=540)
        report = json.loads((folder / f"{name}.json").read_text())
        done[name] = Run(returncode, (folder / f"{name}.out").read_text(), report)
    return done


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_openapi_holds_under_fuzzing(service: str, runs: dict[str, Run]) -> None:
    run = runs[service]
    summary = _summary(service, run.report)
    print(summary)  # the counts the issue asks for: `pytest -s tests/fuzz` shows them
    assert run.returncode == 0, f"{summary}\n{run.output[-8000:]}"


def _summary(service: str, report: dict) -> str:
    per_check = {f["title"]: f["count"] for f in report["failures"]} or "none"
    return (
        f"{service}: {report['operations']['tested']} operations, "
        f"{report['test_cases']['generated']} requests, failures per check: {per_check}, "
        f"errors: {len(report['errors'])}"
    )
