"""Run the whole system on one machine: Kafka, identity-service (the token issuer,
an API alone) and, per event-driven service, its API process (with the outbox
relay) and its Faust worker when it has policies.

    uv run python -m testkit.launcher        # what `make run` does; Ctrl-C stops it all

Tests drive the same `System` class to start real processes on their own ports.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit.actors import Endpoints

ROOT = Path(__file__).resolve().parents[3]
KAFKA_SH = ROOT / "infra" / "kafka" / "kafka.sh"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    http_port: int
    worker_web_port: int

    @property
    def has_worker(self) -> bool:
        return importlib.util.find_spec(f"{self.package}.entrypoints.worker") is not None


# The token issuer: started first, since every other service verifies tokens
# against its keys. It neither publishes nor consumes events (no worker).
IDENTITY = ServiceSpec("identity-service", "identity_service", 8085, 6085)
# The event-driven services.
SERVICES = (
    ServiceSpec("order-service", "order_service", 8081, 6081),
    ServiceSpec("store-service", "store_service", 8082, 6082),
    ServiceSpec("delivery-service", "delivery_service", 8083, 6083),
    ServiceSpec("mypage-service", "mypage_service", 8084, 6084),
)
ALL_SERVICES = (IDENTITY, *SERVICES)
# The people's front door: started last (it calls all of the above), when asked for.
WEB = ServiceSpec("web", "web", 8080, 0)


def kafka(command: str, port: int, home: Path | None = None) -> None:
    env = {**os.environ, "KAFKA_PORT": str(port)}
    if home is not None:
        env["KAFKA_HOME"] = str(home)
    subprocess.run([str(KAFKA_SH), command], check=True, env=env)


def ensure_topics(bootstrap: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "fooddelivery_ops", "topics", "--bootstrap", bootstrap], check=True
    )


@dataclass
class System:
    """The services as real processes. `port_offset` moves every port, so a test
    system can run beside `make run`; `database_urls` maps a service to its DATABASE_URL
    (SQLite files in `data_dir` otherwise)."""

    data_dir: Path
    bootstrap: str = "127.0.0.1:9092"
    port_offset: int = 0
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    with_web: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.spec(service).http_port + self.port_offset}"

    def database_url(self, service: str) -> str:
        """The DATABASE_URL `service` runs on (its SQLite file unless one was given)."""
        db = (self.data_dir / "db").resolve()
        return self.database_urls.get(service, f"sqlite+aiosqlite:///{db / (service + '.db')}")

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        env = {
            **os.environ,
            "HTTP_PORT": str(spec.http_port + self.port_offset),
            "WORKER_WEB_PORT": str(spec.worker_web_port + self.port_offset),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "FOODDELIVERY_DATA_DIR": str(self.data_dir / "db"),
            "PYTHONUNBUFFERED": "1",
            # The issuer every service names in and expects of its tokens.
            "AUTH_ISSUER": self.url(IDENTITY.name),
            # Where the web app finds the services (their usual ports, moved).
            "SERVICE_PORT_OFFSET": str(self.port_offset),
            **self.extra_env,
        }
        env.pop("DATABASE_URL", None)
        if spec.name in self.database_urls:
            env["DATABASE_URL"] = self.database_urls[spec.name]
        return env

    def start_process(self, spec: ServiceSpec, role: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{spec.name}-{role}.log", "ab")
        self.processes[f"{spec.name}-{role}"] = subprocess.Popen(
            [sys.executable, "-m", f"{spec.package}.entrypoints.{role}"],
            env=self.env_for(spec),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops them in order
        )
        log.close()

    def start(self, timeout: float = 90) -> None:
        self.start_process(IDENTITY, "api")
        self.wait_ready(timeout, services=[IDENTITY.name])
        for spec in SERVICES:
            # The API first: it migrates the database before its worker needs it.
            self.start_process(spec, "api")
        # Not yet "ready": that needs the workers, which start once the APIs answer.
        self.wait_ready(timeout, checks=("database", "broker"))
        for spec in SERVICES:
            if spec.has_worker:
                self.start_process(spec, "worker")
        # Ready includes the consumer: callers start once every worker owns its partitions.
        self.wait_ready(timeout)
        if self.with_web:
            self.start_process(WEB, "api")
            self.wait_ready(timeout, services=[WEB.name])

    def wait_ready(
        self,
        timeout: float = 90,
        *,
        services: Iterable[str] | None = None,
        checks: Iterable[str] | None = None,
    ) -> None:
        """Wait until each API's `/health/ready` is 200, or, given `checks`, until
        those checks of its readiness pass (the others may still fail)."""
        deadline = time.monotonic() + timeout
        pending = set(services) if services is not None else {s.name for s in ALL_SERVICES}
        while pending:
            for name in sorted(pending):
                self.check_alive()
                if self._ready(name, checks):
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(
                    f"not ready after {timeout}s: {sorted(pending)}; see {self.log_dir}"
                )
            time.sleep(0.2)

    def _ready(self, service: str, checks: Iterable[str] | None) -> bool:
        try:
            r = httpx.get(f"{self.url(service)}/health/ready", timeout=10)
        except httpx.HTTPError:
            return False
        if checks is None or r.status_code == 200:
            return r.status_code == 200
        try:
            results = r.json()["checks"]
        except (ValueError, KeyError, TypeError):
            return False
        return all(results.get(check) is True for check in checks)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                )

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(
            *(
                self.url(s)
                for s in (
                    "order-service",
                    "store-service",
                    "delivery-service",
                    "mypage-service",
                    IDENTITY.name,
                )
            )
        )

    def spec(self, service: str) -> ServiceSpec:
        return next(s for s in (*ALL_SERVICES, WEB) if s.name == service)

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Stop one process, e.g. `stop_process("store-service-worker")`."""
        proc = self.processes.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_worker(self, service: str, *, wait: bool = False, timeout: float = 90) -> None:
        """Start a service's worker; `wait` returns once it owns its partitions."""
        self.start_process(self.spec(service), "worker")
        if wait:
            self.wait_ready(timeout, services=[service])

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM everything, so handlers in flight and the relay finish; then wait."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Kafka and the services.")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".local" / "run")
    parser.add_argument("--kafka-port", type=int, default=9092)
    args = parser.parse_args()

    bootstrap = f"127.0.0.1:{args.kafka_port}"
    kafka("up", args.kafka_port)
    ensure_topics(bootstrap)
    system = System(args.data_dir, bootstrap, with_web=True)
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        system.start()
        print(f"\nopen {system.url(WEB.name)}\n")
        print("The food-delivery system is running (Ctrl-C stops everything):\n")
        print(f"  {'web':<17} {system.url(WEB.name)}   the pages for customers, owners, riders")
        for spec in ALL_SERVICES:
            url = system.url(spec.name)
            print(f"  {spec.name:<17} {url}   OpenAPI: {url}/docs")
        issuer = system.url(IDENTITY.name)
        print(f"\n  token issuer      {issuer}/.well-known/openid-configuration")
        print(f"  Kafka             {bootstrap}")
        print(f"  logs              {system.log_dir}/")
        print(f"  databases         {system.data_dir / 'db'}/ (SQLite)\n", flush=True)
        while not stopping:
            system.check_alive()
            time.sleep(0.5)
    finally:
        print("\nstopping services ...", flush=True)
        system.stop()
        kafka("down", args.kafka_port)
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
