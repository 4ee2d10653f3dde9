"""The HTTP edge every service shares: the acting user, paging, the one error shape
(problems.py), the limits on what a client sends (limits.py), health, serving."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, StringConstraints, WithJsonSchema, model_validator
from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit import metrics, telemetry
from service_kit.auth import (
    AuthSettings,
    Principal,
    ResourceServer,
    install_resource_server,
    requires,
)
from service_kit.limits import JSON, counting, read_timeout_protocol, refusal
from service_kit.problems import ACTOR, declare, install_error_handlers
from service_kit.runtime import (
    Check,
    Container,
    Platform,
    configure_logging,
    freeze_built_objects,
    logging_config,
    run_checks,
)
from service_kit.telemetry import configure_tracing

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
RegionQuery = Annotated[str, Query(min_length=1, max_length=64, description="e.g. gangnam")]


def text(most: int) -> StringConstraints:
    """Free text, trimmed: 1 to `most` characters, not only whitespace (the pattern
    says so in the schema; the trim refuses it at run time)."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=most, pattern=r"\S")


# Views render times with isoformat(); the schema says what that string is.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class RequestBody(BaseModel):
    """Base of every JSON request body: unknown fields are refused, and so is text that
    is not Unicode. JSON's \\u escapes can carry a lone UTF-16 surrogate, which a plain
    `str` field accepts and nothing downstream (database, reply) can encode."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        _ensure_unicode(data)
        return data


def _ensure_unicode(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _ensure_unicode(key)
            _ensure_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _ensure_unicode(item)


# ----------------------------------------------------------------- the acting user
# The one place that says who acts: the subject of a verified bearer token with the
# role the route needs (service_kit.auth). `actor.sub` is the actor id.

Customer = Annotated[Principal, requires("customer")]
Owner = Annotated[Principal, requires("owner")]
Rider = Annotated[Principal, requires("rider")]


def command_route(answer: type[BaseModel], *refusals: int) -> dict[str, Any]:
    """The options of a route that sends an actor's command about one resource:
    `@router.put(path, **command_route(...))`. It answers the resource as it now stands,
    or refuses: not theirs (403), none such (404), not in a state that allows it (409),
    and any `refusals` the route adds (a body's, say)."""
    return {
        "response_model": answer,
        "responses": declare(*ACTOR, 403, 404, 409, *refusals),
    }


# ---------------------------------------------------------------------- read answers


class Shaped(Response):
    """A read view's answer, already in the shape of its route's `response_model`:
    serialized once, straight to JSON bytes. FastAPI passes a returned Response
    through, so the model is not validated again on every read (a third of a status
    page's cost beside the read itself); the route keeps its `response_model`, so the
    OpenAPI document still names it, and the views' tests check the shape."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        return to_json(content)


# --------------------------------------------------------------------------- paging
MAX_OFFSET = 100_000  # deeper than any screen pages; bounded so SQL never overflows


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def paging(*, default: int, most: int) -> Any:
    """The one `limit`/`offset` pair of every paged list: `Annotated[Page, paging(...)]`."""

    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop
    # (~0.1 ms of CPU) per paged GET for two integers.
    async def page(limit: int = default, offset: int = 0) -> Page:
        return Page(limit, offset)

    # Real objects, not the strings of postponed annotations: `most` is local.
    page.__annotations__ = {
        "limit": Annotated[int, Query(ge=1, le=most, description="How many at most")],
        "offset": Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many to skip")],
        "return": Page,
    }
    return Depends(page)


# --------------------------------------------------------------------------- health


class Live(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool]


def health_router(
    ready_checks: Mapping[str, Check],
    *,
    model: type[Ready] = Ready,
    details: Callable[[], Mapping[str, Any]] | None = None,
) -> APIRouter:
    """`/health/live`: the process answers. `/health/ready`: every check passes
    (see the health design in runtime.py); the body lists each check, and what
    `details` adds (a worker: its partitions), as `model` says."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live", response_model=Live)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        response_model=model,
        responses={503: {"model": model, "description": "A check failed"}},
    )
    async def ready() -> JSONResponse:
        results = await run_checks(ready_checks)  # a failing check is "not ready", never a 500
        ok = all(results.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={
                "status": "ok" if ok else "unavailable",
                "checks": results,
                **(details() if details is not None else {}),
            },
        )

    return router


# ------------------------------------------------------------------------------ app


def offline_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app whose `/docs` (Swagger UI 5, from the fastapi-offline package) is
    served by the service itself, so it works with no internet; "Authorize" logs in at
    the token URL the OpenAPI document names (install_resource_server)."""
    return FastAPIOffline(redoc_url=None, **kwargs)


def service_app(
    platform: Platform,
    *,
    summary: str,
    resource_server: ResourceServer | None = None,
    media_types: tuple[str, ...] = (JSON,),
) -> FastAPI:
    """A service's FastAPI app, titled with the service's name, with what every
    service has: the lifespan (migrate, outbox relay), the one error shape, the body
    limits, the health endpoints, and the bearer-token verifier its routes reach
    through `service_kit.auth.requires` (from the AUTH_* settings unless given)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with platform.lifespan():
            yield

    # Untraced, FastAPI's own telemetry is told so: otherwise it asks the OpenTelemetry
    # providers whether they are configured on every request.
    quiet = None if telemetry.enabled() else {"tracing": False, "metrics": False, "logs": False}
    app = offline_app(
        title=platform.settings.service, summary=summary, lifespan=lifespan, telemetry=quiet
    )
    install_edge(app, media_types)
    install_metrics(app, platform)
    install_resource_server(app, resource_server or ResourceServer(AuthSettings.from_env()))
    include(app, health_router(platform.ready_checks()))
    return app


def include(app: FastAPI, router: APIRouter, *, ahead: bool = False) -> None:
    """`app.include_router(router)` for a router with no prefix or dependencies of its
    own, without the layer: FastAPI keeps an included router as a branch it walks
    (effective routes, contexts) on every request, ~8 us each, while these routes are
    just as well the app's own. `ahead` puts them before the app's routes so far (docs,
    metrics, health): the router matches a request against each route in turn, ~1 us
    apiece, and the service's own routes are the ones called."""
    if ahead:
        app.router.routes[:0] = router.routes
    else:
        app.router.routes.extend(router.routes)


C = TypeVar("C", bound=Container)
C_contra = TypeVar("C_contra", bound=Container, contravariant=True)


class AppFactory(Protocol[C_contra]):
    def __call__(
        self, container: C_contra | None = None, *, resource_server: ResourceServer | None = None
    ) -> FastAPI: ...


def service_api(
    bootstrap: Callable[[], C], routes: Callable[[C], APIRouter], summary: str
) -> tuple[AppFactory[C], Callable[[], None]]:
    """A service's API module's `create_app` and `main`: the service's own `routes`
    (on what its container wires) on the app every service has (service_app), whose
    `summary` says "<Name> context: what it owns" (the board's words too)."""

    def create_app(
        container: C | None = None, *, resource_server: ResourceServer | None = None
    ) -> FastAPI:
        """The app; `resource_server` verifies the bearer tokens (default: the AUTH_* settings)."""
        container = container or bootstrap()
        app = service_app(container.platform, summary=summary, resource_server=resource_server)
        include(app, routes(container), ahead=True)
        return app

    def main() -> None:
        serve(bootstrap(), create_app)

    return create_app, main


def install_metrics(app: FastAPI, platform: Platform) -> None:
    """`/metrics` (Prometheus; not part of the API's contract); the requests are
    counted by the edge (Edge). The API runs the relay, so its scrape reads the outbox too."""
    outbox = metrics.outbox_readings(platform.sessions) if platform.relay is not None else {}
    scrape = metrics.metrics_endpoint(lambda: {**platform.readings, **outbox})
    app.add_route("/metrics", scrape, include_in_schema=False)


def install_edge(app: FastAPI, media_types: tuple[str, ...] = (JSON,)) -> None:
    """The edge (Edge: body limits for bodies of `media_types` only, request metrics)
    and the one error shape, on any app."""
    app.add_middleware(Edge, media_types=media_types)
    install_error_handlers(app)


class Edge:
    """The one ASGI middleware of every app: refuses a body it must not read (413 from
    its length, 415 not of `media_types`; limits.py), refuses a streamed body past the
    limit as it arrives, and counts every request with its status and latency by route
    template (metrics.request_done). One layer, one pass over the raw headers: each
    middleware layer is a coroutine and a `send` wrapper more on every request."""

    def __init__(self, app: ASGIApp, media_types: tuple[str, ...] = (JSON,)) -> None:
        self.app = app
        self.media_types = media_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees when the app raises before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            length: bytes | None = None
            chunked, content_type = False, b""
            for name, value in scope["headers"]:
                if name == b"content-length":
                    length = value
                elif name == b"content-type":
                    content_type = value
                elif name == b"transfer-encoding":
                    chunked = True
            if chunked or length not in (None, b"0"):  # a body
                refused = refusal(length, content_type, self.media_types)
                if refused is not None:
                    await refused(scope, receive, sending)
                    return
                receive = counting(receive)
            await self.app(scope, receive, sending)
        finally:
            metrics.request_done(scope, status, time.perf_counter() - started)


# How every API (and the bench's bare app, its yardstick) is served.
# No access log: a log line per request costs more than a read view (errors still log).
UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",  # libuv's event loop: less CPU per request than asyncio's own
    "log_level": "info",
    "access_log": False,
    # No proxy sets X-Forwarded-*: uvicorn's ProxyHeadersMiddleware would only be one
    # more layer per request.
    "proxy_headers": False,
    "timeout_graceful_shutdown": 10,
}


def serve(container: C, create_app: Callable[[C], FastAPI]) -> None:
    """The body of every service's API main(): run the app on the bootstrapped
    container; SIGTERM lets requests in flight and the relay finish."""
    settings = container.settings
    configure_logging(settings.service)
    app = create_app(container)
    if configure_tracing(settings.service, "api", [container.platform.engine]):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # Server spans named by route template; health probes and the ASGI
        # receive/send steps would only be noise.
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="health/.*", exclude_spans=["receive", "send"]
        )
    freeze_built_objects()
    # uvicorn re-raises the signal it stopped on once it has shut down gracefully, and
    # the default SIGTERM action would then report the clean stop as a kill (-15).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        **UVICORN_OPTIONS,
        log_config=logging_config(settings.service),
        http=read_timeout_protocol(settings.http_read_timeout_s),
    )


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(0)


__all__ = [
    "ID_PATTERN",
    "Customer",
    "Edge",
    "Id",
    "Owner",
    "Page",
    "PathId",
    "RegionQuery",
    "RequestBody",
    "Rider",
    "Shaped",
    "Timestamp",
    "command_route",
    "declare",
    "install_edge",
    "paging",
    "serve",
    "service_api",
    "service_app",
    "text",
]
