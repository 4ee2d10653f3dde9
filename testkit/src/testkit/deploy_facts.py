"""For tests/deploy: what the code says a deployment must match, read from the code itself (never
restated here): the services and their packages, the environment variables each
process reads, default ports, health routes, topics. A renamed setting, port or
route changes these facts and fails the manifest tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from service_kit.consumer import EventProcessor
from service_kit.http import health_router
from service_kit.worker import Worker

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("local", "production")

_ENV_READ = re.compile(
    r"""(?:environ|env)\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|getenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
_DEFAULT_PORTS = re.compile(r"http_port=(\d+),\s*worker_web_port=(\d+)")
# The chassis and the contract run in every service process.
SHARED_SOURCES = (ROOT / "service-kit" / "src", ROOT / "shared-events" / "src")


@dataclass(frozen=True)
class ServiceFacts:
    name: str  # order-service
    package: str  # order_service
    api_port: int
    worker_port: int
    has_worker: bool

    @property
    def source(self) -> Path:
        return ROOT / self.name / "src" / self.package

    def entrypoint_exists(self, module: str) -> bool:
        """Whether `python -m <module>` names a module of this service."""
        relative = module.removeprefix(f"{self.package}.").replace(".", "/")
        return module.startswith(f"{self.package}.") and (self.source / f"{relative}.py").is_file()

    def env_read(self) -> frozenset[str]:
        """Every environment variable this service's processes read."""
        return env_read_in(self.source, *SHARED_SOURCES)


def env_read_in(*folders: Path) -> frozenset[str]:
    names: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for match in _ENV_READ.finditer(path.read_text()):
                names.add(next(group for group in match.groups() if group))
    return frozenset(names)


@cache
def services() -> dict[str, ServiceFacts]:
    """Every service of the workspace: a `<name>/src/<package>/bootstrap.py`."""
    found: dict[str, ServiceFacts] = {}
    for bootstrap in sorted(ROOT.glob("*-service/src/*/bootstrap.py")):
        ports = _DEFAULT_PORTS.search(bootstrap.read_text())
        assert ports, f"{bootstrap}: no ServiceSettings.from_env(..., http_port=, worker_web_port=)"
        package = bootstrap.parent
        found[package.parents[1].name] = ServiceFacts(
            name=package.parents[1].name,
            package=package.name,
            api_port=int(ports.group(1)),
            worker_port=int(ports.group(2)),
            has_worker=(package / "entrypoints" / "worker.py").is_file(),
        )
    return found


@cache
def api_health_paths() -> frozenset[str]:
    return frozenset(route.path for route in health_router({}).routes)  # type: ignore[attr-defined]


@cache
def worker_health_paths() -> frozenset[str]:
    async def no_processor() -> EventProcessor:
        raise AssertionError("never started")

    app = Worker("facts", [], no_processor, bootstrap_servers="", web_port=0).web_app()
    paths = (route.path for route in app.routes)  # type: ignore[attr-defined]
    return frozenset(p for p in paths if p.startswith("/health/"))
