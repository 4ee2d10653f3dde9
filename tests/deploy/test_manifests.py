"""deploy/k8s, validated offline: every overlay renders (testkit.kustomize), every core
object is valid for a pinned Kubernetes version (kubernetes-validate), and the
Strimzi, CloudNativePG and workload objects say what the code says (testkit.deploy_facts):
images, commands, ports, probe paths, environment variables, topics."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from fooddelivery_ops.topics import parser as topics_parser
from service_kit.db import DB_POOL_OVERFLOW, DB_POOL_SIZE
from service_kit.runtime import CHECK_TIMEOUT
from shared_events.topics import ALL_TOPICS, PARTITIONS
from testkit import deploy_facts as facts
from testkit.kustomize import containers, render

# The Kubernetes version the manifests must be valid for (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.33.0"
CUSTOM_GROUPS = {"kafka.strimzi.io", "postgresql.cnpg.io"}
KAFKA_CLUSTER = "fooddelivery"
# identity-service arrives from its own branch; until its code is in this checkout, its
# manifests and the AUTH_* settings (service_kit.auth) cannot be checked against code.
# Once it is, this allowance is empty and they are checked like everything else.
IDENTITY = "identity-service"
Obj = dict[str, Any]


@cache
def rendered(overlay: str) -> tuple[Obj, ...]:
    return tuple(render(facts.K8S / "overlays" / overlay))


def of_kind(overlay: str, kind: str) -> list[Obj]:
    return [o for o in rendered(overlay) if o["kind"] == kind]


def named(overlay: str, kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in of_kind(overlay, kind)}


def group_of(obj: Obj) -> str:
    return obj["apiVersion"].rpartition("/")[0]


def workloads(overlay: str) -> Iterator[tuple[facts.ServiceFacts | None, str, Obj]]:
    """(service facts, component, Deployment) for every service Deployment."""
    for deployment in of_kind(overlay, "Deployment"):
        labels = deployment["metadata"]["labels"]
        service = labels["app.kubernetes.io/name"]
        yield facts.services().get(service), labels["app.kubernetes.io/component"], deployment


def env_of(container: Obj, overlay: str) -> dict[str, str | None]:
    """The container's environment: its env (secret values as None) and envFrom ConfigMaps."""
    env: dict[str, str | None] = {}
    maps = named(overlay, "ConfigMap")
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def port_named(container: Obj, port: str | int) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return number


def only_container(deployment: Obj) -> Obj:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def selects(selector: dict[str, str], obj: Obj) -> bool:
    labels = obj["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector.items())


# ------------------------------------------------------------------- rendering


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_every_core_object_is_valid_for_the_pinned_kubernetes(overlay: str) -> None:
    core = [o for o in rendered(overlay) if group_of(o) not in CUSTOM_GROUPS]
    assert {o["kind"] for o in core} >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Job",
        "ConfigMap",
    }
    for obj in core:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_names_are_unique_and_namespaced(overlay: str) -> None:
    keys = [(o["kind"], o["metadata"]["name"]) for o in rendered(overlay)]
    assert len(keys) == len(set(keys))
    namespaced = [o for o in rendered(overlay) if o["kind"] != "Namespace"]
    assert {o["metadata"].get("namespace") for o in namespaced} == {"fooddelivery"}


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_no_secret_is_committed_and_every_one_referenced_is_documented(overlay: str) -> None:
    assert not of_kind(overlay, "Secret")
    referenced: set[str] = set()
    for _, _, deployment in workloads(overlay):
        pod = deployment["spec"]["template"]["spec"]
        referenced |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        for container in containers(deployment):
            referenced |= {
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in container.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
    referenced |= {
        c["spec"]["bootstrap"]["initdb"]["secret"]["name"] for c in of_kind(overlay, "Cluster")
    }
    readme = (facts.ROOT / "README.md").read_text()
    assert referenced, "the databases and the signing key need credentials"
    assert {name for name in referenced if name not in readme} == set()


# ------------------------------------------------------------ against the code


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_every_service_has_its_processes_and_nothing_else(overlay: str) -> None:
    deployed = {
        (s, c)
        for s, c in (
            (d["metadata"]["labels"]["app.kubernetes.io/name"], comp)
            for _, comp, d in workloads(overlay)
        )
    }
    expected = {(s.name, "api") for s in facts.services().values()}
    expected |= {(s.name, "worker") for s in facts.services().values() if s.has_worker}
    unexplained = deployed - expected
    assert expected <= deployed
    assert unexplained == set()


def checked_workloads(overlay: str) -> Iterator[tuple[facts.ServiceFacts, str, Obj]]:
    for service, component, deployment in workloads(overlay):
        assert service is not None, deployment["metadata"]["name"]
        yield service, component, deployment


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_images_and_commands_are_the_services_own(overlay: str) -> None:
    for service, component, deployment in checked_workloads(overlay):
        container = only_container(deployment)
        image, _, tag = container["image"].partition(":")
        assert image == f"fooddelivery/{service.name}" and tag, container["image"]
        assert (facts.ROOT / service.name / "Dockerfile").is_file()
        assert container["command"][:2] == ["python", "-m"]
        module = container["command"][2]
        assert module == f"{service.package}.entrypoints.{component}"
        assert service.entrypoint_exists(module), module


def test_local_images_are_those_docker_compose_builds() -> None:
    import yaml

    compose = yaml.safe_load((facts.ROOT / "docker-compose.yml").read_text())
    built = {s["image"] for s in compose["services"].values() if "build" in s}
    for _, _, deployment in checked_workloads("local"):
        assert only_container(deployment)["image"] in built
    (job,) = of_kind("local", "Job")
    assert only_container(job)["image"] in built


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_ports_and_probes_are_the_ones_the_processes_serve(overlay: str) -> None:
    for service, component, deployment in checked_workloads(overlay):
        container = only_container(deployment)
        env = env_of(container, overlay)
        if component == "api":
            port, paths, port_env = service.api_port, facts.api_health_paths(), "HTTP_PORT"
        else:
            port, paths, port_env = (
                service.worker_port,
                facts.worker_health_paths(),
                "WORKER_WEB_PORT",
            )
        assert [p["containerPort"] for p in container["ports"]] == [port]
        assert env[port_env] == str(port)
        # Bound to every interface, or the kubelet and the Service cannot reach it.
        assert env["HTTP_HOST"] == "0.0.0.0"
        probes = {
            k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        assert probes["livenessProbe"]["path"] == "/health/live"
        assert probes["readinessProbe"]["path"] == "/health/ready"
        assert {p["path"] for p in probes.values()} <= paths
        assert {port_named(container, p["port"]) for p in probes.values()} == {port}
        # A readiness answer takes up to CHECK_TIMEOUT; the probe must wait longer.
        assert container["readinessProbe"]["timeoutSeconds"] > CHECK_TIMEOUT
        # Metrics are served on the same port as the health routes.
        scrape = deployment["spec"]["template"]["metadata"]["annotations"]
        assert scrape["prometheus.io/port"] == str(port)
        assert scrape["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_every_environment_variable_is_one_the_code_reads(overlay: str) -> None:
    for service, component, deployment in checked_workloads(overlay):
        container = only_container(deployment)
        env = env_of(container, overlay)
        read = service.env_read()
        # Set only to be spelled into another value as $(NAME) (the database URL).
        composed = {
            name
            for value in env.values()
            if value
            for name in re.findall(r"\$\(([A-Z_]+)\)", value)
        }
        unread = set(env) - read - composed
        assert unread == set(), f"{deployment['metadata']['name']} sets what no code reads"
        required = {"HTTP_HOST", "DATABASE_URL"}
        if service.has_worker:
            required |= {"KAFKA_BOOTSTRAP_SERVERS", "WORKER_WEB_PORT"}
        if component == "api":
            required |= {"HTTP_PORT"} | ({"WORKER_HEALTH_URL"} if service.has_worker else set())
        assert required <= set(env), deployment["metadata"]["name"]


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_services_route_to_the_ports_and_the_api_asks_its_own_worker(overlay: str) -> None:
    services = named(overlay, "Service")
    deployments = named(overlay, "Deployment")
    for service, component, deployment in checked_workloads(overlay):
        name = service.name if component == "api" else f"{service.name}-worker"
        (port,) = services[name]["spec"]["ports"]
        assert selects(services[name]["spec"]["selector"], deployment)
        assert port_named(only_container(deployment), port["targetPort"]) == port["port"]
        if component == "api" and service.has_worker:
            url = urlsplit(env_of(only_container(deployment), overlay)["WORKER_HEALTH_URL"] or "")
            assert (url.hostname, url.port, url.path) == (
                f"{service.name}-worker",
                service.worker_port,
                "/health/ready",
            )
            assert f"{service.name}-worker" in deployments


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_scaling_autoscales_apis_and_keeps_workers_within_the_partitions(overlay: str) -> None:
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(overlay, "HorizontalPodAutoscaler")
    }
    pdbs = of_kind(overlay, "PodDisruptionBudget")
    for deployment in of_kind(overlay, "Deployment"):
        name = deployment["metadata"]["name"]
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        assert [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], deployment)], name
        if component == "api":
            assert name in hpas and "replicas" not in deployment["spec"]  # the HPA owns it
            assert 1 <= hpas[name]["spec"]["minReplicas"] <= hpas[name]["spec"]["maxReplicas"]
        else:
            assert name not in hpas
            # One consumer group per service over PARTITIONS partitions: more would idle.
            assert 1 <= deployment["spec"]["replicas"] <= PARTITIONS
    if overlay == "production":
        assert all(h["spec"]["minReplicas"] >= 2 for h in hpas.values())


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_every_process_at_its_most_fits_its_databases_connections(overlay: str) -> None:
    """Each API replica the autoscaler may run and each worker, their pools full (plus an
    API's LISTEN connection, outside the pool), within the server's max_connections
    less the superuser's reserve: past it a request fails with 'too many clients'."""
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(overlay, "HorizontalPodAutoscaler")
    }
    clusters = named(overlay, "Cluster")
    budgets: dict[str, int] = {}
    for _service, component, deployment in workloads(overlay):
        env = env_of(only_container(deployment), overlay)
        if "DATABASE_URL" not in env:  # (its value comes from a Secret: None here)
            continue
        name = deployment["metadata"]["name"]
        database = f"{deployment['metadata']['labels']['app.kubernetes.io/name']}-db"
        pool = int(env.get("DB_POOL_SIZE") or DB_POOL_SIZE)
        pool += int(env.get("DB_POOL_OVERFLOW") or DB_POOL_OVERFLOW)
        if component == "api":
            replicas, pool = hpas[name]["spec"]["maxReplicas"], pool + 1
        else:
            replicas = deployment["spec"]["replicas"]
        budgets[database] = budgets.get(database, 0) + replicas * pool
    assert budgets and set(budgets) <= set(clusters)
    for database, needed in budgets.items():
        parameters = clusters[database]["spec"].get("postgresql", {}).get("parameters", {})
        allowed = int(parameters.get("max_connections", 100)) - 3  # superuser_reserved
        assert needed <= allowed, (database, needed, allowed)


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_network_policies_allow_only_kafka_the_own_database_and_the_issuer(overlay: str) -> None:
    policies = of_kind(overlay, "NetworkPolicy")
    for _, component, deployment in workloads(overlay):
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        (policy,) = [
            p for p in policies if selects(p["spec"]["podSelector"]["matchLabels"], deployment)
        ]
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        reached = {destination(rule, service) for rule in policy["spec"]["egress"]}
        allowed = {"dns", "database", "collector"}
        if (facts.services().get(service) or _no_worker()).has_worker:
            allowed |= {"kafka"}
            if component == "api":
                allowed |= {"issuer", "own worker"}
        assert "dns" in reached and "database" in reached
        assert reached <= allowed, (deployment["metadata"]["name"], reached)


def _no_worker() -> facts.ServiceFacts:
    return facts.ServiceFacts(IDENTITY, "identity_service", 0, 0, has_worker=False)


def destination(rule: Obj, service: str) -> str:
    (peer,) = rule["to"]
    labels = peer.get("podSelector", {}).get("matchLabels", {})
    ports = {p["port"] for p in rule["ports"]}
    if labels == {"k8s-app": "kube-dns"} and ports == {53}:
        return "dns"
    if labels == {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka"}:
        return "kafka"
    if labels == {"cnpg.io/cluster": f"{service}-db"} and ports == {5432}:
        return "database"
    namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
    if labels == {"app.kubernetes.io/name": "otel-collector"} and ports == {4318}:
        assert namespace == {"kubernetes.io/metadata.name": "observability"}
        return "collector"
    if labels.get("app.kubernetes.io/name") == IDENTITY and ports == {8085}:
        return "issuer"
    if labels == {"app.kubernetes.io/name": service, "app.kubernetes.io/component": "worker"}:
        return "own worker"
    return f"unexpected {labels} {ports}"


# ------------------------------------------------------------ Strimzi, CloudNativePG


def topics_job_settings(overlay: str) -> Any:
    (job,) = of_kind(overlay, "Job")
    command = only_container(job)["command"]
    argv = shlex.split(command[-1]) if command[:2] == ["sh", "-c"] else command
    assert argv[:4] == ["exec", "python", "-m", "fooddelivery_ops"] or argv[:3] == [
        "python",
        "-m",
        "fooddelivery_ops",
    ]
    args = argv[argv.index("topics") + 1 :]
    return topics_parser().parse_args(args)


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_kafka_is_strimzi_in_kraft_mode_with_three_brokers(overlay: str) -> None:
    (kafka,) = of_kind(overlay, "Kafka")
    assert kafka["metadata"]["name"] == KAFKA_CLUSTER
    annotations = kafka["metadata"]["annotations"]
    assert annotations["strimzi.io/kraft"] == "enabled"
    assert annotations["strimzi.io/node-pools"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    spec = kafka["spec"]["kafka"]
    assert spec["version"] and spec["listeners"]
    for listener in spec["listeners"]:
        assert {"name", "port", "type", "tls"} <= set(listener)
    (plain,) = [x for x in spec["listeners"] if not x["tls"]]
    bootstrap = named(overlay, "ConfigMap")["fooddelivery-kafka"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == f"{KAFKA_CLUSTER}-kafka-bootstrap:{plain['port']}"
    pools = of_kind(overlay, "KafkaNodePool")
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER for p in pools)
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert brokers == 3 and controllers % 2 == 1
    for pool in pools:
        assert pool["spec"]["storage"]["type"] in {"jbod", "persistent-claim", "ephemeral"}
    job = topics_job_settings(overlay)
    assert spec["config"]["default.replication.factor"] == job.replication_factor
    assert spec["config"]["min.insync.replicas"] == job.min_insync_replicas
    assert spec["config"]["auto.create.topics.enable"] is False


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_kafka_topics_are_every_topic_the_code_creates_with_the_jobs_settings(overlay: str) -> None:
    job = topics_job_settings(overlay)
    assert (job.replication_factor, job.min_insync_replicas) == (3, 2)
    topics = of_kind(overlay, "KafkaTopic")
    assert sorted(t["spec"].get("topicName", t["metadata"]["name"]) for t in topics) == sorted(
        ALL_TOPICS
    )
    for topic in topics:
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == KAFKA_CLUSTER
        assert topic["spec"]["partitions"] == PARTITIONS
        assert topic["spec"]["replicas"] == job.replication_factor
        assert topic["spec"]["config"]["min.insync.replicas"] == job.min_insync_replicas
    (job_obj,) = of_kind(overlay, "Job")
    assert job_obj["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_each_service_has_its_own_cloudnativepg_cluster_and_uses_it(overlay: str) -> None:
    clusters = named(overlay, "Cluster")
    for _, _, deployment in workloads(overlay):
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        cluster = clusters[f"{service}-db"]
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["instances"] >= 1 and cluster["spec"]["storage"]["size"]
        initdb = cluster["spec"]["bootstrap"]["initdb"]
        env = {e["name"]: e for e in only_container(deployment)["env"]}
        url = urlsplit(env["DATABASE_URL"]["value"])
        assert (url.scheme, url.hostname, url.port) == ("postgresql", f"{service}-db-rw", 5432)
        assert url.path == f"/{initdb['database']}"
        # The credentials are the ones initdb gave the owner.
        user = env["DB_USERNAME"]["valueFrom"]["secretKeyRef"]
        password = env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert user["name"] == password["name"] == initdb["secret"]["name"]
        assert url.username == "$(DB_USERNAME)" and url.password == "$(DB_PASSWORD)"
    assert set(clusters) == {
        f"{s}-db"
        for s in {
            d["metadata"]["labels"]["app.kubernetes.io/name"] for _, _, d in workloads(overlay)
        }
    }


@pytest.mark.parametrize("overlay", facts.OVERLAYS)
def test_production_exports_traces_to_the_collector_its_policies_reach(overlay: str) -> None:
    for _, _, deployment in workloads(overlay):
        endpoint = env_of(only_container(deployment), overlay).get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if overlay == "production":
            assert endpoint, deployment["metadata"]["name"]
            where = urlsplit(endpoint)
            assert (where.hostname, where.port) == ("otel-collector.observability.svc", 4318)
        else:
            assert not endpoint  # the base leaves tracing off
