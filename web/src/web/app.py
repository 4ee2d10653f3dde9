"""The web app's wiring: sessions, CSRF, language, the routers, static files."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from asgi_csrf import asgi_csrf
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Scope, Send

from service_kit.auth import AuthSettings, ResourceServer
from web import account, customer, i18n, owner, rider
from web.backend import Backend, SignedOut
from web.pages import NeedsSignIn, render
from web.sessions import SessionStore
from web.settings import WebSettings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# Posted before anyone has a cookie: refused without a token all the same.
ALWAYS_PROTECT = {"/login", "/signup", "/forgot", "/reset", "/logout"}


def create_app(
    settings: WebSettings | None = None,
    verifier: ResourceServer | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ASGIApp:
    """The web app; tests pass a `verifier` and a `transport` standing in for the services."""
    settings = settings or WebSettings.from_env()
    auth = AuthSettings.from_env({"AUTH_ISSUER": settings.identity_url} | _auth_env())
    verifier = verifier or ResourceServer(auth)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=10.0, transport=transport) as http:
            app.state.backend = Backend(settings, http, verifier)
            yield

    app = FastAPI(title="web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.sessions = SessionStore()
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (account, customer, owner, rider):
        app.include_router(module.router)

    @app.get("/health/live", include_in_schema=False)
    @app.get("/health/ready", include_in_schema=False)
    async def health() -> dict[str, str]:
        # Ready as soon as it answers: every page degrades to a message on its own
        # when a service is down, so the web app never waits for them.
        return {"status": "ok"}

    @app.exception_handler(NeedsSignIn)
    async def _sign_in(request: Request, _: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _: Exception) -> Response:
        request.app.state.sessions.remove(request.session.pop("sid", None))
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return render(request, "error.html", exc.status_code, detail=str(exc.detail))

    @app.middleware("http")
    async def _language(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        i18n.current.set(
            i18n.negotiate(request.cookies.get("lang"), request.headers.get("accept-language"))
        )
        response = await call_next(request)
        response.headers.setdefault("Content-Language", i18n.current.get())
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret,
        session_cookie="session",
        same_site="lax",
        https_only=settings.https,  # Secure under HTTPS; HttpOnly always
        max_age=12 * 3600,
    )
    csrf: ASGIApp = asgi_csrf(
        app,
        signing_secret=settings.secret,
        always_protect=ALWAYS_PROTECT,
        cookie_secure=settings.https,
        cookie_samesite="Lax",
        send_csrf_failed=_csrf_failed,
    )
    return csrf


async def _csrf_failed(scope: Scope, send: Send, message_id: object) -> None:
    body = (
        b"<!doctype html><html lang=en><title>Refused</title><p>"
        b"This form was refused: its security token is missing or out of date. "
        b'Go <a href="/">back</a>, reload the page and try again.</p></html>'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _auth_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("AUTH_")}


def main() -> None:
    settings = WebSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s web %(levelname)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
