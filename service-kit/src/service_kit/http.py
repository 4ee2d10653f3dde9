"""The HTTP edge every service shares: the acting user, one error shape, health."""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from service_kit.auth import AuthSettings, ResourceServer, install_resource_server
from service_kit.kernel import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PaymentDeclined,
)
from service_kit.runtime import Check, Container, Platform, configure_logging, run_checks

log = logging.getLogger(__name__)


def acting_user(
    x_actor_id: Annotated[
        str | None,
        Header(description="The acting customer, store owner or rider (until real auth lands)"),
    ] = None,
) -> str:
    if not x_actor_id or not x_actor_id.strip():
        raise HTTPException(status_code=401, detail="X-Actor-Id header is required")
    if len(x_actor_id) > 64:
        raise HTTPException(status_code=422, detail="X-Actor-Id is longer than 64 characters")
    return x_actor_id.strip()


def viewing_user(description: str) -> Callable[..., str | None]:
    """A dependency for reads anyone may make and the acting user may see more of:
    X-Actor-Id when it is sent (validated as `acting_user` does), else None."""

    # Header() as the default, not in Annotated: the annotation must resolve
    # without this function's locals (annotations are strings in this module).
    def viewer(x_actor_id: str | None = Header(None, description=description)) -> str | None:
        if x_actor_id is None or not x_actor_id.strip():
            return None
        return acting_user(x_actor_id)

    return viewer


_STATUS: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (InvalidInput, 422),
    (PaymentDeclined, 402),
]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        body: dict[str, object] = {"detail": str(exc)}
        if isinstance(exc, Conflict) and exc.current_state:
            body["current_state"] = exc.current_state
        if isinstance(exc, InvalidInput) and exc.field:
            body["detail"] = [
                {"loc": ["body", *exc.field.split(".")], "msg": str(exc), "type": "value_error"}
            ]
        return JSONResponse(status_code=status, content=body)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity conflict: %s", type(exc.orig).__name__)
        return JSONResponse(
            status_code=409, content={"detail": "conflicts with a concurrent change; retry"}
        )


def health_router(ready_checks: Mapping[str, Check]) -> APIRouter:
    """`/health/live`: the process answers. `/health/ready`: every check passes
    (see the health design in runtime.py); the body lists each check."""
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        results = await run_checks(ready_checks)  # a failing check is "not ready", never a 500
        ok = all(results.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={"status": "ok" if ok else "unavailable", "checks": results},
        )

    return router


def service_app(
    platform: Platform, *, summary: str, resource_server: ResourceServer | None = None
) -> FastAPI:
    """A service's FastAPI app, titled with the service's name, with what every
    service has: the lifespan (migrate, outbox relay), the one error shape, the health
    endpoints, and the bearer-token verifier its routes reach through
    `service_kit.auth.requires` (from the AUTH_* settings unless given)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with platform.lifespan():
            yield

    app = FastAPI(title=platform.settings.service, summary=summary, lifespan=lifespan)
    install_error_handlers(app)
    install_resource_server(app, resource_server or ResourceServer(AuthSettings.from_env()))
    app.include_router(health_router(platform.ready_checks()))
    return app


C = TypeVar("C", bound=Container)

# How every API (and the bench's bare app, its yardstick) is served.
# No access log: a log line per request costs more than a read view (errors still log).
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "info",
    "access_log": False,
    "timeout_graceful_shutdown": 10,
}


def serve(container: C, create_app: Callable[[C], FastAPI]) -> None:
    """The body of every service's API main(): run the app on the bootstrapped
    container; SIGTERM lets requests in flight and the relay finish."""
    settings = container.settings
    configure_logging(settings.service)
    # uvicorn re-raises the signal it stopped on once it has shut down gracefully, and
    # the default SIGTERM action would then report the clean stop as a kill (-15).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        create_app(container),
        host=settings.http_host,
        port=settings.http_port,
        **UVICORN_OPTIONS,
    )


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(0)
