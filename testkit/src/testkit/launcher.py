"""Run the whole system on one machine: Kafka, identity-service (the token issuer,
an API alone) and, per event-driven service, its API process (with the outbox
relay) and its worker (the consumer) when it has policies.

    uv run python -m testkit.launcher        # what `make run` does; Ctrl-C stops it all
    uv run python -m testkit.launcher --replicas 2   # `make run REPLICAS=2`, on PostgreSQL

With `--replicas N` each event-driven service runs N APIs and N workers (its workers
one consumer group), on PostgreSQL: replica k's API listens on the service's port +
100*k and its worker's web port moves likewise. identity-service and the web app run
once (the web app and the actors use replica 0).

The services die with the launcher, however it ends (Ctrl-C and SIGTERM stop them in
order; a SIGKILLed launcher takes them along by the parent-death signal), and a
closed stdout (`make run | head`) never stops it.

Tests drive the same `System` class to start real processes on their own ports.
"""

from __future__ import annotations

import argparse
import ctypes
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
# Replica k of a service listens on its ports moved by k steps.
REPLICA_PORT_STEP = 100
PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_launcher() -> None:
    """In the child, before exec: SIGTERM it when the launcher dies, even by SIGKILL
    (Linux; elsewhere the launcher's own signal handling is all there is)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def say(text: str = "") -> None:
    """Print, and go on without an output once the reader went away (`make run | head`)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # From now on stdout is /dev/null, for us and for every child started later.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run_quietly(command: list[str], env: dict[str, str] | None = None) -> None:
    """A helper command whose output is relayed by `say`: a closed stdout cannot kill it."""
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.stdout:
        say(done.stdout.decode(errors="replace").rstrip())
    done.check_returncode()


def kafka(command: str, port: int, home: Path | None = None) -> None:
    env = {**os.environ, "KAFKA_PORT": str(port)}
    if home is not None:
        env["KAFKA_HOME"] = str(home)
    run_quietly([str(KAFKA_SH), command], env=env)


def ensure_topics(bootstrap: str) -> None:
    run_quietly([sys.executable, "-m", "fooddelivery_ops", "topics", "--bootstrap", bootstrap])


def postgres_urls() -> dict[str, str]:
    """Start the local PostgreSQL (infra/postgres/postgres.sh, PG_PORT) and name each
    service's database on it."""
    postgres = ROOT / "infra" / "postgres" / "postgres.sh"
    run_quietly([str(postgres), "up"])
    return {
        spec.name: subprocess.run(
            [str(postgres), "url", spec.package], check=True, capture_output=True, text=True
        ).stdout.strip()
        for spec in ALL_SERVICES
    }


@dataclass
class System:
    """The services as real processes. `port_offset` moves every port, so a test
    system can run beside `make run`; `database_urls` maps a service to its DATABASE_URL
    (SQLite files in `data_dir` otherwise). `replicas` > 1 runs that many APIs and
    workers of each event-driven service (on PostgreSQL: give `database_urls`)."""

    data_dir: Path
    bootstrap: str = "127.0.0.1:9092"
    port_offset: int = 0
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    with_web: bool = False
    replicas: int = 1
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str, replica: int = 0) -> str:
        port = self.spec(service).http_port + self.offset(replica)
        return f"http://127.0.0.1:{port}"

    def offset(self, replica: int) -> int:
        return self.port_offset + REPLICA_PORT_STEP * replica

    def replicas_of(self, spec: ServiceSpec) -> int:
        return self.replicas if spec in SERVICES else 1

    @staticmethod
    def process_name(spec: ServiceSpec, role: str, replica: int = 0) -> str:
        """`order-service-api` (replica 0, as with one replica), `order-service-api-1`, ..."""
        return f"{spec.name}-{role}" + (f"-{replica}" if replica else "")

    def database_url(self, service: str) -> str:
        """The DATABASE_URL `service` runs on (its SQLite file unless one was given)."""
        db = (self.data_dir / "db").resolve()
        return self.database_urls.get(service, f"sqlite+aiosqlite:///{db / (service + '.db')}")

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def env_for(self, spec: ServiceSpec, replica: int = 0) -> dict[str, str]:
        env = {
            **os.environ,
            "HTTP_PORT": str(spec.http_port + self.offset(replica)),
            "WORKER_WEB_PORT": str(spec.worker_web_port + self.offset(replica)),
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

    def start_process(self, spec: ServiceSpec, role: str, replica: int = 0) -> None:
        name = self.process_name(spec, role, replica)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"{spec.package}.entrypoints.{role}"],
            env=self.env_for(spec, replica),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops them in order
            preexec_fn=_die_with_launcher,
        )
        log.close()

    def start(self, timeout: float = 90) -> None:
        self.start_process(IDENTITY, "api")
        self.wait_ready(timeout, services=[IDENTITY.name])
        for spec in SERVICES:
            # The API first: it migrates the database before its worker needs it.
            for replica in range(self.replicas_of(spec)):
                self.start_process(spec, "api", replica)
        # Not yet "ready": that needs the workers, which start once the APIs answer.
        self.wait_ready(timeout, checks=("database", "broker"))
        for spec in SERVICES:
            for replica in range(self.replicas_of(spec) if spec.has_worker else 0):
                self.start_process(spec, "worker", replica)
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
        replicas = range(self.replicas_of(self.spec(service)))
        return all(self._replica_ready(self.url(service, k), checks) for k in replicas)

    def _replica_ready(self, url: str, checks: Iterable[str] | None) -> bool:
        try:
            r = httpx.get(f"{url}/health/ready", timeout=10)
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
        return self.endpoints_of(0)

    def endpoints_of(self, replica: int) -> Endpoints:
        """The services' APIs of one replica (the issuer runs once)."""
        return Endpoints(
            order=self.url("order-service", replica),
            store=self.url("store-service", replica),
            delivery=self.url("delivery-service", replica),
            mypage=self.url("mypage-service", replica),
            identity=self.url(IDENTITY.name),
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

    def start_worker(
        self, service: str, *, wait: bool = False, timeout: float = 90, replica: int = 0
    ) -> None:
        """Start a service's worker; `wait` returns once it owns its partitions."""
        self.start_process(self.spec(service), "worker", replica)
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
    parser.add_argument(
        "--replicas", type=int, default=1, help="APIs and workers per service (>1: PostgreSQL)"
    )
    parser.add_argument(
        "--port-offset", type=int, default=0, help="move every port (run beside another system)"
    )
    args = parser.parse_args()

    bootstrap = f"127.0.0.1:{args.kafka_port}"
    stopping = started = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        if not started:
            raise KeyboardInterrupt  # cut the start short; `finally` stops what runs

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    system: System | None = None
    try:
        kafka("up", args.kafka_port)
        ensure_topics(bootstrap)
        urls = postgres_urls() if args.replicas > 1 else {}
        system = System(
            args.data_dir,
            bootstrap,
            port_offset=args.port_offset,
            database_urls=urls,
            with_web=True,
            replicas=args.replicas,
        )
        system.start()
        started = True
        say(f"\nopen {system.url(WEB.name)}\n")
        say("The food-delivery system is running (Ctrl-C stops everything):\n")
        say(f"  {'web':<17} {system.url(WEB.name)}   the pages for customers, owners, riders")
        for spec in ALL_SERVICES:
            for replica in range(system.replicas_of(spec)):
                url = system.url(spec.name, replica)
                label = spec.name + (f" #{replica}" if system.replicas_of(spec) > 1 else "")
                say(f"  {label:<17} {url}   OpenAPI: {url}/docs")
        issuer = system.url(IDENTITY.name)
        say(f"\n  token issuer      {issuer}/.well-known/openid-configuration")
        say(f"  Kafka             {bootstrap}")
        say(f"  logs              {system.log_dir}/")
        where = "PostgreSQL (PG_PORT)" if urls else f"{system.data_dir / 'db'}/ (SQLite)"
        say(f"  databases         {where}\n")
        while not stopping:
            system.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stopping = True  # a second signal no longer interrupts the stop
        say("\nstopping services ...")
        if system is not None:
            system.stop()
        kafka("down", args.kafka_port)
        say("stopped.")


if __name__ == "__main__":
    main()
