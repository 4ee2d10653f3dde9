"""Server-side sessions: the browser holds only a signed session id (starlette's
SessionMiddleware, itsdangerous) in an HttpOnly, SameSite=Lax cookie; the person's
tokens stay here, in this process.

In process memory on purpose: nothing about the domain is kept, a restart only
signs people out, and one lock per session makes a token refresh happen once even
when a page's polling and a click race (two refreshes with one refresh token would
look like token theft to identity-service and revoke the whole family). Several web
replicas need sticky sessions, or this store moved to a shared cache.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field


@dataclass
class Session:
    """Who is signed in, and their tokens (never logged, never sent to the browser)."""

    account_id: str
    role: str
    email: str
    region: str | None
    access_token: str
    refresh_token: str
    expires_at: float  # monotonic seconds; refresh a little before
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    # Messages for the next page ("Order cancelled", a service's refusal).
    flash: list[tuple[str, str]] = field(default_factory=list, repr=False)
    # The stores this owner registered or opened here, for the owner's links.
    stores: list[str] = field(default_factory=list)
    # The deliveries this rider picked here, for "my current delivery".
    deliveries: list[str] = field(default_factory=list)
    # The cart: store id and quantity per menu item (what the person picked, no rule).
    cart_store: str | None = None
    cart: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:  # no token or email in a traceback
        return f"Session(account_id={self.account_id!r}, role={self.role!r})"

    def expiring(self, margin_s: float = 30.0) -> bool:
        return time.monotonic() >= self.expires_at - margin_s


class SessionStore:
    def __init__(self, max_sessions: int = 100_000) -> None:
        self._sessions: dict[str, Session] = {}
        self.max_sessions = max_sessions

    def add(self, session: Session) -> str:
        if len(self._sessions) >= self.max_sessions:
            self._sessions.pop(next(iter(self._sessions)))  # the oldest goes first
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = session
        return sid

    def get(self, sid: str | None) -> Session | None:
        return self._sessions.get(sid) if sid else None

    def remove(self, sid: str | None) -> Session | None:
        return self._sessions.pop(sid, None) if sid else None
