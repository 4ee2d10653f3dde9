"""The services' public APIs, called with the signed-in person's bearer token.

Nothing is decided here: a refusal comes back as a `Reply` carrying the service's
own words (its `detail`), which the page shows as a message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from service_kit.auth import Principal, ResourceServer
from web.sessions import Session
from web.settings import WebSettings

log = logging.getLogger(__name__)


class SignedOut(Exception):
    """The session's tokens can no longer be refreshed: sign in again."""


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any = None
    message: str | None = None  # the refusal in the service's words

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def refusal(response: httpx.Response) -> str:
    """The `{"detail": ...}` of the one error shape, as one line of plain words."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # 422: which field, and why
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
                parts.append(f"{'.'.join(loc)}: {item.get('msg', '')}".strip(": "))
        detail = "; ".join(parts)
    if isinstance(detail, str) and detail:
        return detail
    return response.reason_phrase or f"HTTP {response.status_code}"


class Backend:
    def __init__(
        self, settings: WebSettings, http: httpx.AsyncClient, verifier: ResourceServer
    ) -> None:
        self.settings = settings
        self.http = http
        self.verifier = verifier
        self.urls = {
            "identity": settings.identity_url,
            "order": settings.order_url,
            "store": settings.store_url,
            "delivery": settings.delivery_url,
            "mypage": settings.mypage_url,
        }

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response | Reply:
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("%s %s failed: %s", method, url.split("?")[0], type(exc).__name__)
            return Reply(503, message="service unavailable")

    @staticmethod
    def _reply(response: httpx.Response | Reply) -> Reply:
        if isinstance(response, Reply):
            return response
        if response.is_success:
            data = response.json() if response.content else None
            return Reply(response.status_code, data)
        return Reply(response.status_code, message=refusal(response))

    # --- identity -----------------------------------------------------------------

    async def sign_up(self, body: dict[str, Any]) -> Reply:
        url = f"{self.urls['identity']}/auth/accounts"
        return self._reply(await self._send("POST", url, json=body))

    async def log_in(self, email: str, password: str) -> Session | Reply:
        grant = {"grant_type": "password", "username": email, "password": password}
        reply = self._reply(
            await self._send("POST", f"{self.urls['identity']}/auth/token", data=grant)
        )
        if not reply.ok:
            return reply
        principal = await self._principal(reply.data["access_token"])
        return Session(
            account_id=principal.sub,
            role=principal.role,
            email=email,
            region=principal.region,
            access_token=reply.data["access_token"],
            refresh_token=reply.data["refresh_token"],
            expires_at=time.monotonic() + float(reply.data.get("expires_in", 900)),
        )

    async def _principal(self, access_token: str) -> Principal:
        # The token is checked like any resource server would, so the header never
        # names someone the issuer did not sign for.
        return await self.verifier.authenticate(access_token)

    async def log_out(self, session: Session) -> None:
        url = f"{self.urls['identity']}/auth/logout"
        await self._send("POST", url, json={"refresh_token": session.refresh_token})

    async def request_reset(self, email: str) -> Reply:
        url = f"{self.urls['identity']}/auth/password-reset"
        return self._reply(await self._send("POST", url, json={"email": email}))

    async def confirm_reset(self, token: str, new_password: str) -> Reply:
        url = f"{self.urls['identity']}/auth/password-reset/confirm"
        body = {"token": token, "new_password": new_password}
        return self._reply(await self._send("POST", url, json=body))

    async def _refresh(self, session: Session, stale_token: str) -> None:
        """Rotate the tokens once, under the session's lock; a caller that waited
        for another's refresh finds new tokens and does nothing."""
        async with session.lock:
            if session.access_token != stale_token:
                return
            grant = {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
            reply = self._reply(
                await self._send("POST", f"{self.urls['identity']}/auth/token", data=grant)
            )
            if not reply.ok:
                raise SignedOut()
            session.access_token = reply.data["access_token"]
            session.refresh_token = reply.data["refresh_token"]
            session.expires_at = time.monotonic() + float(reply.data.get("expires_in", 900))

    # --- the services ---------------------------------------------------------------

    async def call(
        self,
        session: Session | None,
        method: str,
        service: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One call to a service's public API, as the signed-in person (or anonymous
        for the public queries); an expired token is refreshed and the call retried once."""
        url = f"{self.urls[service]}{path}"
        sent = dict(headers or {})
        token = await self.fresh_token(session) if session is not None else None
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = await self._send(method, url, json=json, params=params, headers=sent)
        if session is not None and token is not None and _unauthorized(response):
            # Expired early or the issuer's keys rotated: one refresh, one retry.
            await self._refresh(session, token)
            sent["Authorization"] = f"Bearer {session.access_token}"
            response = await self._send(method, url, json=json, params=params, headers=sent)
        return self._reply(response)

    async def fresh_token(self, session: Session) -> str:
        """The session's access token, refreshed first when it is about to expire."""
        if session.expiring():
            await self._refresh(session, session.access_token)
        return session.access_token


def _unauthorized(response: httpx.Response | Reply) -> bool:
    return isinstance(response, httpx.Response) and response.status_code == 401
