"""Running a service process: logging, the API with its outbox relay, the worker."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import logging
import logging.config
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from aiokafka.client import AIOKafkaClient
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tenacity import AsyncRetrying, stop_after_attempt, wait_fixed

from service_kit import metrics
from service_kit.db import (
    create_engine,
    inline_sessions,
    read_only,
    serial_sessions,
    session_factory,
    sqlite_file_engine,
)
from service_kit.lease import lease_for
from service_kit.messagebus import MessageBus
from service_kit.migrations import upgrade
from service_kit.outbox import OutboxRelay, make_producer
from service_kit.reads import Reads
from service_kit.settings import ServiceSettings
from service_kit.telemetry import log_trace_ids
from service_kit.uow import SqlAlchemyUnitOfWork, Trace
from service_kit.wake import Changed, relay_wake

U = TypeVar("U", bound=SqlAlchemyUnitOfWork)

# Health design. A service is two processes: the API (with the outbox relay) and
# the worker (the consumer). Each answers `/health/live` (the process runs)
# and `/health/ready`. The worker is ready when its consumer owns partitions and
# its database and the broker answer; it serves that on its own web port
# (WORKER_WEB_PORT). The API is ready when its database and the broker answer and
# its worker is ready: the "consumer" check asks the worker's readiness URL
# (WORKER_HEALTH_URL), so one probe of the API covers the whole service. Checks
# run concurrently, each bounded by CHECK_TIMEOUT, so a probe answers in seconds.
CHECK_TIMEOUT = 3.0
Check = Callable[[], Awaitable[bool]]


async def run_checks(checks: Mapping[str, Check]) -> dict[str, bool]:
    """Every check's result; one that fails or hangs is False, never an error."""

    async def probe(check: Check) -> bool:
        try:
            return bool(await asyncio.wait_for(check(), CHECK_TIMEOUT))
        except Exception:
            return False

    results = await asyncio.gather(*(probe(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span ids of the span in flight
    (telemetry.py), so a log line leads to its trace. The message is the one the code
    wrote: what must never be logged (phones, addresses, tokens) is kept out there."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = log_trace_ids()
        if ids:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(service: str) -> dict[str, Any]:
    """The one logging setup (for `logging.config.dictConfig`): JSON lines on stdout.
    uvicorn is handed it too, so its own lines come out the same way."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": os.environ.get("LOG_LEVEL", "INFO").upper(), "handlers": ["stdout"]},
        "loggers": {
            # aiokafka logs every lost connection at ERROR; the relay reports retries.
            "aiokafka": {"level": "CRITICAL"},
            # aiosqlite logs every statement with its parameters (emails, phone numbers,
            # addresses) at DEBUG: never, whatever LOG_LEVEL says.
            "aiosqlite": {"level": "WARNING"},
            # uvicorn's own handlers give way to the root's JSON one.
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
        },
    }


def configure_logging(service: str) -> None:
    # dictConfig clears the root's handlers; one already there (a test's log capture)
    # is kept fed, as logging.basicConfig would have left it.
    kept = list(logging.root.handlers)
    logging.config.dictConfig(logging_config(service))
    for handler in kept:
        logging.root.addHandler(handler)


def freeze_built_objects() -> None:
    """Called once a process has built what it runs (modules, app, routes, schemas:
    ~150k objects that live as long as the process): they move out of the garbage
    collector's reach, so a full collection no longer walks them. In an API that walk
    stalled every request in flight for ~80 ms.

    First the modules a process would otherwise import at its first use: httpx
    imports httpcore (and through it anyio, and trio where installed) only when the
    first client is made, i.e. at an API's first token verification (the JWKS) or
    mypage's first message sent, on the event loop: 150-700 ms during which every
    request in flight waited. That stall was the event hop's p99 (applied -> visible)."""
    importlib.import_module("httpcore")
    gc.collect()
    gc.freeze()


class BackgroundLoop(Protocol):
    """A loop an API process runs beside its requests (the outbox relay, a refund or
    notification dispatcher): `run()` until `stop()`, finishing the item in flight."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@asynccontextmanager
async def running(*loops: BackgroundLoop) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(loop.run(), name=type(loop).__name__) for loop in loops]
    try:
        yield
    finally:
        for loop in loops:
            loop.stop()
        with suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=15)


class Platform:
    """The infrastructure one service process stands on: its database and its relay.
    A service that neither publishes nor consumes (`messaging=False`, identity-service)
    has no relay, and its readiness is its database alone."""

    def __init__(
        self,
        settings: ServiceSettings,
        migrations_dir: Path,
        *,
        messaging: bool = True,
    ) -> None:
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_overflow,
        )
        # Units of work, the relay and the dispatchers write through `writes`. Views and
        # gauges read through `sessions`: on SQLite these begin deferred, so a read never
        # queues behind a writer (WAL gives it a snapshot); a writer must not use them.
        # On a SQLite file their statements run inline, in turns (db.serial_sessions).
        self.writes = session_factory(self.engine)
        self._inline: list[Engine] = []  # the synchronous engines under `writes`
        serial = serial_sessions(self.engine)
        if serial is not None:
            self.writes, sync = serial
            self._inline.append(sync)
        self.sessions = session_factory(read_only(self.engine))
        # The views' reads: each a function of a Core connection, run whole (reads.py).
        self.reads = Reads(self.engine)
        self.relay = (
            OutboxRelay(
                self.writes,
                lambda: make_producer(
                    settings.kafka_bootstrap_servers, f"{settings.service}-relay"
                ),
                lease=lease_for(self.engine, settings.service),
                reads=self.reads,
            )
            if messaging
            else None
        )
        self.background: list[BackgroundLoop] = [self.relay] if self.relay else []
        # How a commit in the worker reaches the API's relay (service_kit.wake).
        self.wake = relay_wake(
            settings.database_url, settings.service, settings.http_host, settings.http_port
        )
        self._relay_here = False  # True in the API process, which runs the relay
        # The API's live views, told the keys a commit changed (mypage's stream hub).
        self.on_changed: Changed | None = None
        # The gauges `/metrics` reads at each scrape; a service adds its own (pending work).
        self.readings: dict[metrics.Gauge, metrics.Reading] = metrics.pool_readings(self.engine)
        self.worker_health_url = os.environ.get("WORKER_HEALTH_URL") or (
            f"http://127.0.0.1:{settings.worker_web_port}/health/ready"
        )

    def write_inline(self) -> None:
        """For the worker, which applies one unit of work at a time: on a SQLite file its
        units of work run their statements on the event loop's thread
        (`db.inline_sessions`) instead of one aiosqlite thread hop per statement."""
        sync = sqlite_file_engine(self.engine, pool_size=1)
        if sync is not None:
            self._inline.append(sync)
            self.writes = inline_sessions(sync)

    def engines(self) -> list[AsyncEngine | Engine]:
        """What this process talks to its database through (for tracing)."""
        return [self.engine, *self._inline]

    async def migrate(self) -> None:
        # The API and the worker of a service both migrate at start, one at a time
        # (migrations.run_env); retried while the database is not reachable yet.
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(5), wait=wait_fixed(1), reraise=True
        ):
            with attempt:
                await upgrade(self.migrations_dir, self.settings.database_url)

    async def dispose(self) -> None:
        self.wake.close()
        self.reads.close()
        for sync in self._inline:
            sync.dispose()
        await self.engine.dispose()

    def wake_relay(self) -> None:
        """After a commit that staged events: wake the relay, here or in the API."""
        if self.relay is None:
            return
        if self._relay_here:
            self.relay.wake()
        else:
            self.wake.committed()

    async def changing(self, session: AsyncSession, keys: Collection[str]) -> None:
        """In a transaction that changed the rows of `keys` a live view shows."""
        await self.wake.changing(session, keys)

    def changed(self, keys: Collection[str]) -> None:
        """After that commit: wake the live views of `keys`, here or in the API."""
        if self.on_changed is not None:
            self.on_changed(list(keys))
        else:
            self.wake.changed(keys)

    def _heard(self, keys: list[str]) -> None:
        if self.on_changed is not None:
            self.on_changed(keys)

    def ready_checks(self) -> dict[str, Check]:
        checks: dict[str, Check] = {"database": self.database_ready}
        if self.relay is not None:
            checks["broker"] = self.broker_ready
            checks["consumer"] = self.consumer_ready  # the worker process's readiness
        return checks

    async def database_ready(self) -> bool:
        async with read_only(self.engine).connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def broker_ready(self) -> bool:
        client = AIOKafkaClient(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, request_timeout_ms=3000
        )
        try:
            await asyncio.wait_for(client.bootstrap(), timeout=3)
            return True
        finally:
            await client.close()

    async def consumer_ready(self) -> bool:
        """Whether the service's worker (another process) owns its partitions."""
        timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.worker_health_url) as response,
        ):
            return response.status == 200

    def unit_of_work(self, uow_class: type[U], producer: str, **extra: Any) -> Callable[[Trace], U]:
        """The factory the message bus calls: one unit of work per message, waking
        the relay after a commit that staged events; `extra` goes to the class too."""

        def factory(trace: Trace) -> U:
            return uow_class(
                self.writes,
                producer=producer,
                trace=trace,
                on_commit=self.wake_relay if self.relay else None,
                on_stage=self.wake.staged if self.relay else None,
                **extra,
            )

        return factory

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """API process life: migrate, the relay (and any other background loop) beside
        the requests, dispose on the way out."""
        await self.migrate()
        stop_listening = None
        if self.relay is not None:
            self._relay_here = True
            stop_listening = await self.wake.listen(self.relay.wake, self._heard)
        try:
            async with running(*self.background):
                yield
        finally:
            if stop_listening is not None:
                await stop_listening()
            await self.dispose()


@dataclass
class Container:
    """What a service's bootstrap wires for its processes; a service with more to wire
    (a gateway, a dispatcher) extends it."""

    platform: Platform
    bus: MessageBus

    @property
    def settings(self) -> ServiceSettings:
        return self.platform.settings
