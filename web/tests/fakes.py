"""Stand-ins for identity-service and the four services, behind one httpx transport,
and a token verifier that knows the fake tokens. They record what they were asked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from service_kit.auth import Principal

ACCOUNTS = {
    "cu@example.com": Principal(sub="cu-1", role="customer"),
    "ow@example.com": Principal(sub="ow-1", role="owner"),
    "ri@example.com": Principal(sub="ri-1", role="rider", region="gangnam"),
}


class FakeVerifier:
    """Access tokens are "<email>#<n>"; n counts refreshes."""

    async def authenticate(self, token: str) -> Principal:
        return ACCOUNTS[token.split("#")[0]]


@dataclass
class FakeServices:
    # (method, path) -> (status, body): what a service answers.
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, token
    expired: set[str] = field(default_factory=set)  # access tokens the services refuse
    refreshes: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth else None
        self.calls.append((request.method, path, token))
        if path == "/auth/token":
            return self.token(dict(httpx.QueryParams(request.content.decode())))
        if token in self.expired:
            return httpx.Response(401, json={"detail": "token expired"})
        status, body = self.answers.get((request.method, path), (404, {"detail": "not found"}))
        return httpx.Response(status, json=body)

    def token(self, form: dict[str, str]) -> httpx.Response:
        if form.get("grant_type") == "password":
            email = form.get("username", "")
            if email not in ACCOUNTS or form.get("password") != "right-password":
                return httpx.Response(400, json={"error": "invalid_grant"})
            n = 0
        else:
            email, _, n_text = form.get("refresh_token", "").partition("#refresh")
            n = int(n_text) + 1
            self.refreshes += 1
        body = {
            "access_token": f"{email}#{n}",
            "token_type": "bearer",
            "expires_in": 900,
            "refresh_token": f"{email}#refresh{n}",
        }
        return httpx.Response(200, content=json.dumps(body))

    def service_calls(self) -> list[tuple[str, str, str | None]]:
        return [c for c in self.calls if not c[1].startswith("/auth/")]
