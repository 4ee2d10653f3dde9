"""docker-compose.yml and its observability profile, checked offline.

No Docker engine runs here and the docker CLI may lack its compose plugin: then the
file is validated against the Compose Specification's JSON Schema (vendored under
compose-spec/ with its license, from the check-jsonschema package on PyPI)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from fooddelivery_ops.topics import parser as topics_parser
from service_kit.metric_names import METRICS, NAMES
from testkit.deploy_facts import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).parent / "compose-spec" / "compose-spec.json"
OBSERVABILITY = ROOT / "infra" / "observability"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "fooddelivery.json"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def docker_compose_available() -> bool:
    docker = shutil.which("docker")
    return (
        bool(docker)
        and subprocess.run(
            [docker or "docker", "compose", "version"], capture_output=True
        ).returncode
        == 0
    )


def test_compose_file_is_valid() -> None:
    if docker_compose_available():
        subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"], check=True)
        subprocess.run(
            [
                "docker",
                "compose",
                "-f",
                str(COMPOSE_FILE),
                "--profile",
                "observability",
                "config",
                "-q",
            ],
            check=True,
        )
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_the_schema_refuses_a_broken_compose_file() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["kafka"]["depends_on"] = {"topics": {"condition": "when_it_feels_like_it"}}
    broken["services"]["grafana"]["profiles"] = "observability"
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert len(list(validator.iter_errors(broken))) >= 2


def test_topics_are_created_with_the_single_brokers_replication() -> None:
    services = compose()["services"]
    command = services["topics"]["command"]
    args = topics_parser().parse_args(command[command.index("topics") + 1 :])
    kafka = services["kafka"]["environment"]
    assert args.replication_factor == kafka["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 1
    assert args.min_insync_replicas == 1


def test_observability_profile_has_its_four_services_and_their_files() -> None:
    services = compose()["services"]
    profiled = {name for name, s in services.items() if "observability" in s.get("profiles", [])}
    assert profiled == {"otel-collector", "jaeger", "prometheus", "grafana"}
    for name in profiled:
        for volume in services[name].get("volumes", []):
            source = volume.split(":")[0]
            assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"
    # Nothing else needs the profile: the system runs without it.
    assert all(
        not set(s.get("depends_on", {})) & profiled
        for name, s in services.items()
        if name not in profiled
    )


def service_processes() -> dict[str, int]:
    """host:port of the metrics of every API and worker compose runs."""
    targets: dict[str, int] = {}
    for name, service in compose()["services"].items():
        command = " ".join(service.get("command", []))
        env = service.get("environment", {})
        if command.endswith(".entrypoints.api"):
            targets[name] = int(env["HTTP_PORT"])
        elif command.endswith(".entrypoints.worker"):
            targets[name] = int(env["WORKER_WEB_PORT"])
    return targets


def test_prometheus_scrapes_every_api_and_worker_at_metrics() -> None:
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    scraped: dict[str, int] = {}
    for group in job["static_configs"]:
        assert {"service", "process"} <= set(group["labels"])
        for target in group["targets"]:
            host, port = target.rsplit(":", 1)
            scraped[host] = int(port)
    expected = service_processes()
    assert len(expected) >= 8
    assert {host: scraped.get(host) for host in expected} == expected


def test_otel_collector_sends_traces_to_jaeger() -> None:
    config = yaml.safe_load((OBSERVABILITY / "otel-collector.yaml").read_text())
    (exporter,) = config["service"]["pipelines"]["traces"]["exporters"]
    host = config["exporters"][exporter]["endpoint"].split(":")[0]
    assert host in compose()["services"]
    assert "otlp" in config["service"]["pipelines"]["traces"]["receivers"]
    endpoint = compose()["x-kafka-env"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"  # off unless the operator asks
    readme = (ROOT / "README.md").read_text()
    documented = re.search(r"OTEL_EXPORTER_OTLP_ENDPOINT=(\S+)", readme)
    assert documented and urlsplit(documented.group(1).strip("`")).hostname == "otel-collector"


def dashboard_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"\bfooddelivery_[a-z_]+", target["expr"]):
                used.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return used


def test_the_dashboard_shows_every_named_metric_and_no_other() -> None:
    assert dashboard_metrics() == set(NAMES)
    provisioning = OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
    uids = {d["uid"] for d in yaml.safe_load(provisioning.read_text())["datasources"]}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        assert panel["datasource"]["uid"] in uids


def test_histograms_are_read_through_their_buckets() -> None:
    expressions = " ".join(
        t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]
    )
    for metric in METRICS:
        if metric.kind == "histogram":
            assert f"{metric.name}_bucket" in expressions
        if metric.kind == "counter":
            assert metric.name.endswith("_total")


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_the_readme_table_states_each_metrics_meaning_and_alert(metric: Any) -> None:
    rows = [
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")
    ]
    (row,) = [r for r in rows if r.startswith(f"| `{metric.name}` |")]
    assert metric.meaning in row and metric.alert in row and metric.kind in row
