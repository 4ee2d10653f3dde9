"""What every page needs: the templates (autoescaped, gettext), who is signed in,
flash messages, and redirects that only go to our own pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web import i18n
from web.backend import Backend, Reply
from web.sessions import Session, SessionStore

TEMPLATES_DIR = Path(__file__).parent / "templates"


def N_(message: str) -> str:
    """Marks a message for the catalogs; translated where it is shown."""
    return message


# The board's status names, in human words (the `data-status` attribute keeps the name).
STATUS_WORDS = {
    "PLACED": N_("Order received"),
    "ACCEPTED": N_("Accepted by the store"),
    "REJECTED": N_("Rejected by the store"),
    "COOKING": N_("Cooking"),
    "COOKED": N_("Cooked, waiting for a rider"),
    "PICKED": N_("On its way"),
    "DELIVERED": N_("Delivered"),
    "CANCELLED": N_("Cancelled"),
    "RETURNED": N_("Returned"),
    "RECEIVED": N_("New order"),
    "WAITING": N_("Waiting for a rider"),
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"], default=True),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.globals["status_words"] = lambda s: i18n.gettext_(STATUS_WORDS.get(s) or str(s))
    env.globals["languages"] = i18n.LANGUAGES
    env.filters["won"] = lambda amount: f"{amount:,}" if isinstance(amount, int) else "-"
    env.filters["seconds_left"] = seconds_left
    return env


def seconds_left(deadline: str | None) -> int | None:
    if not deadline:
        return None
    try:
        at = datetime.fromisoformat(deadline)
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0, int((at - datetime.now(UTC)).total_seconds()))


templates = Jinja2Templates(env=_environment())


def store(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


def backend(request: Request) -> Backend:
    api: Backend = request.app.state.backend
    return api


def signed_in(request: Request) -> Session | None:
    return store(request).get(request.session.get("sid"))


class NeedsSignIn(Exception):
    """Raised by a page that needs someone signed in (with a role); the app answers
    with a redirect to the login page."""


def requires(role: str) -> Callable[[Request], Session]:
    def dependency(request: Request) -> Session:
        session = signed_in(request)
        if session is None:
            raise NeedsSignIn()
        if session.role != role:
            raise HTTPException(status_code=403, detail=f"this page is for the role {role}")
        return session

    return dependency


Customer = Annotated[Session, Depends(requires("customer"))]
Owner = Annotated[Session, Depends(requires("owner"))]
Rider = Annotated[Session, Depends(requires("rider"))]
Api = Annotated[Backend, Depends(backend)]


def flash(request: Request, message: str, kind: str = "error") -> None:
    """A message for the next page, kept server-side with the session."""
    session = signed_in(request)
    if session is not None:
        session.flash.append((kind, message))


def flash_reply(request: Request, reply: Reply, done: str) -> None:
    """A refusal in the service's words, or the success message."""
    if reply.ok:
        flash(request, done, "ok")
    else:
        flash(request, refused(reply))


def refused(reply: Reply) -> str:
    prefix = {
        401: i18n.gettext_("Please log in again."),
        403: i18n.gettext_("Not allowed:"),
        404: i18n.gettext_("Not found:"),
        402: i18n.gettext_("Payment refused:"),
        409: i18n.gettext_("Refused:"),
        422: i18n.gettext_("Please check:"),
        429: i18n.gettext_("Too many attempts; try again later:"),
        503: i18n.gettext_("A service is not answering; try again shortly:"),
    }.get(reply.status, i18n.gettext_("Refused:"))
    return f"{prefix} {reply.message}" if reply.message else prefix


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    me = signed_in(request)
    messages = list(context.pop("messages", []))
    if me is not None:
        messages, me.flash[:] = [*me.flash, *messages], []
    return templates.TemplateResponse(
        request,
        name,
        {
            "me": me,
            "messages": messages,
            "csrftoken": request.scope["csrftoken"](),
            "language": i18n.current.get(),
            **context,
        },
        status_code=status_code,
    )


def render_fragment(request: Request, name: str, **context: Any) -> HTMLResponse:
    """A polled part of a page: leaves the flash messages for the next full page."""
    return templates.TemplateResponse(
        request,
        name,
        {"me": signed_in(request), "csrftoken": request.scope["csrftoken"](), **context},
    )


def back_to(target: str) -> RedirectResponse:
    """A redirect after a POST, to one of our own pages only."""
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    return RedirectResponse(target, status_code=303)
