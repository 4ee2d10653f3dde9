"""The resource server, written once: every service verifies the caller's bearer
token against the issuer's published keys (JWKS) and checks the role a route needs.

A route asks for a role with one dependency:

    Customer = Annotated[Principal, requires("customer")]

    @app.delete("/orders/{order_id}")
    async def cancel(order_id: str, actor: Customer) -> ...:   # actor.sub is the actor id

`service_app` (service_kit.http) gives every app its verifier from the AUTH_*
settings; another app calls `install_resource_server(app, ResourceServer(settings))`.

Nothing here is specific to identity-service: issuer, audience, JWKS URL and role
claim are settings, so any OpenID Connect provider (Keycloak, ...) can stand in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any, Protocol

import httpx
import jwt
from cachetools import TLRUCache
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.security import OAuth2PasswordBearer

log = logging.getLogger(__name__)

# Asymmetric algorithms only: `none` and the HS* family (where a public key could be
# abused as the shared secret) are never accepted, whatever the token's header says.
DEFAULT_ALGORITHMS = ("ES256", "EdDSA", "RS256")
_REFUSED = {"none", "HS256", "HS384", "HS512"}


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    audience: str
    jwks_url: str
    token_url: str
    role_claim: str = "role"  # a dotted path, e.g. "realm_access.roles" for Keycloak
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway_s: float = 30.0  # clock skew tolerated on exp / nbf / iat

    def __post_init__(self) -> None:
        refused = _REFUSED.intersection(self.algorithms)
        if refused or not self.algorithms:
            raise ValueError(f"AUTH_ALGORITHMS must be asymmetric algorithms, not {refused}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        env = os.environ if env is None else env
        issuer = env.get("AUTH_ISSUER", "http://127.0.0.1:8085").rstrip("/")
        algorithms = env.get("AUTH_ALGORITHMS")
        return cls(
            issuer=issuer,
            audience=env.get("AUTH_AUDIENCE", "fooddelivery"),
            jwks_url=env.get("AUTH_JWKS_URL", f"{issuer}/.well-known/jwks.json"),
            token_url=env.get("AUTH_TOKEN_URL", f"{issuer}/auth/token"),
            role_claim=env.get("AUTH_ROLE_CLAIM", "role"),
            algorithms=tuple(a.strip() for a in algorithms.split(",") if a.strip())
            if algorithms
            else DEFAULT_ALGORITHMS,
        )


@dataclass(frozen=True)
class Principal:
    """Who is calling: `sub` is the actor id of every command and event."""

    sub: str
    role: str  # the role claim; of a list, the one the route admitted (see requires)
    region: str | None = None
    # Every role the token grants (a provider may put a list in the role claim).
    roles: frozenset[str] = field(default_factory=frozenset)


class KeysUnavailable(Exception):
    """The issuer's JWKS could not be fetched and no keys are cached."""


class KeySource(Protocol):
    """Where a resource server finds the public key a token names. A source whose
    keys can change also has a `generation` that moves whenever they do (JwksCache):
    the resource server then forgets every token it verified."""

    async def get(self, kid: str) -> jwt.PyJWK | None: ...


class StaticKeys:
    """A key set given up front (a JWKS document): tests verify real signed tokens
    without a running issuer, and a deployment may pin its provider's keys."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        keys = jwt.PyJWKSet.from_dict(dict(jwks)).keys
        self._keys = {key.key_id: key for key in keys if key.key_id}

    async def get(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)


@dataclass(eq=False)
class JwksCache:
    """The issuer's public keys by `kid`: fetched with httpx, kept for `max_age_s`,
    refetched early when a token names an unknown `kid` (a key rotation), but never
    more often than `min_refetch_s` so forged kids cannot hammer the issuer."""

    url: str
    _: KW_ONLY
    max_age_s: float = 600.0
    min_refetch_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    transport: httpx.AsyncBaseTransport | None = None
    fetches: int = field(default=0, init=False)
    # Moves whenever a fetch brings a key set other than the one held (a rotation, a
    # revocation): ResourceServer forgets the tokens it verified with the old one.
    generation: int = field(default=0, init=False)
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, init=False, repr=False)
    _document: Any = field(default=None, init=False, repr=False)
    # One client for every fetch: a new one would set up its pool (and import its
    # transport) each time.
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    # The last attempt, successful or not.
    _fetched_at: float | None = field(default=None, init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def get(self, kid: str) -> jwt.PyJWK | None:
        if kid not in self._keys or self._stale():
            async with self._lock:  # one fetch at a time; waiters reuse its result
                if (kid not in self._keys or self._stale()) and self._may_fetch():
                    await self._fetch()
        if not self._keys:
            raise KeysUnavailable(self.url)
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= self.max_age_s

    def _may_fetch(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= self.min_refetch_s

    async def _fetch(self) -> None:
        self._fetched_at = self.clock()
        self.fetches += 1
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self.transport, timeout=5.0)
        try:
            response = await self._client.get(self.url)
            response.raise_for_status()
            document = response.json()
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            # Keep serving the keys we have; with none, callers get KeysUnavailable.
            log.warning("JWKS fetch from %s failed: %s", self.url, type(exc).__name__)
            return
        if self._document is not None and document != self._document:
            self.generation += 1
        self._document = document
        self._keys = {key.key_id: key for key in keys if key.key_id}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _unauthorized(description: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=description,
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
        },
    )


VERIFIED_TOKENS = 10_000  # verified tokens remembered at once, per process
# How long a verified token is taken at its word before its signature is checked again
# (and so its key looked up, which refreshes a stale key set): a key revoked from the
# JWKS stops working at most this long after the refresh that drops it, if not at once.
VERIFIED_FOR_S = 60.0


class ResourceServer:
    """Turns a bearer token into a `Principal`, or refuses it with a 401."""

    def __init__(
        self,
        settings: AuthSettings,
        jwks: KeySource | None = None,
        *,
        clock: Callable[[], float] = time.time,  # wall time, as `exp` is
    ) -> None:
        self.settings = settings
        self.jwks: KeySource = jwks or JwksCache(settings.jwks_url)
        # The signature check is the costliest step of a request, and a client sends
        # the same token for minutes: a token verified once is taken at its word for
        # VERIFIED_FOR_S, never past the moment it would be refused as expired (its
        # `exp` plus the leeway), and never once the key set changed (`generation`).
        # Only verified tokens are remembered; the least recently used go first.
        self._verified: TLRUCache[str, tuple[Principal, float]] = TLRUCache(
            maxsize=VERIFIED_TOKENS,
            ttu=lambda _token, entry, now: min(entry[1], now + VERIFIED_FOR_S),
            timer=clock,
        )
        self._generation = self._keys_generation()

    @classmethod
    def with_keys(cls, settings: AuthSettings, jwks: Mapping[str, Any]) -> ResourceServer:
        """A verifier over a fixed key set instead of the issuer's JWKS URL."""
        return cls(settings, StaticKeys(jwks))

    def _keys_generation(self) -> int:
        return getattr(self.jwks, "generation", 0)  # a fixed key set has none

    async def authenticate(self, token: str) -> Principal:
        if self._generation != self._keys_generation():
            self._verified.clear()  # verified with keys that may be gone
            self._generation = self._keys_generation()
        remembered = self._verified.get(token)
        if remembered is not None:
            return remembered[0]
        principal, expires = await self._verify(token)
        if self._generation == self._keys_generation():  # else a fetch just changed them
            self._verified[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """The token's principal and the moment it stops being valid, or a 401."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("malformed token") from None
        kid = header.get("kid")
        if header.get("alg") not in self.settings.algorithms or not isinstance(kid, str):
            raise _unauthorized("invalid token")
        try:
            key = await self.jwks.get(kid)
        except KeysUnavailable:
            raise HTTPException(
                status_code=503, detail="the token issuer's keys are unavailable; retry"
            ) from None
        if key is None:
            raise _unauthorized("unknown signing key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token expired") from None
        except jwt.PyJWTError:
            raise _unauthorized("invalid token") from None
        return self._principal(claims), float(claims["exp"]) + self.settings.leeway_s

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        value: Any = claims
        for part in self.settings.role_claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        roles = [value] if isinstance(value, str) else value
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise _unauthorized("token carries no role")
        sub, region = claims["sub"], claims.get("region")
        if not isinstance(sub, str) or not sub or len(sub) > 64:
            raise _unauthorized("invalid subject")
        return Principal(
            sub=sub,
            role=roles[0],
            region=region if isinstance(region, str) else None,
            roles=frozenset(roles),
        )


class _RoleBearer(OAuth2PasswordBearer):
    """The bearer scheme of a route needing one of `roles`: the scheme itself admits
    the caller, so FastAPI solves one dependency per request, not a dependency of a
    dependency (it solves each level of the tree on every request). The OpenAPI
    document shows it as the scheme `bearer`: /docs gets an "Authorize" button that
    logs in at the issuer's token endpoint (install_resource_server fills in the URL)."""

    def __init__(self, roles: frozenset[str]) -> None:
        super().__init__(
            tokenUrl="/auth/token",
            scheme_name="bearer",
            auto_error=False,  # our own 401 carries the WWW-Authenticate challenge
            description="An access token from the identity service (OAuth2 password grant)",
        )
        self.allowed = roles
        self.refusal = f"needs the role {' or '.join(sorted(roles))}"

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await authenticated(request, await super().__call__(request))
        admitted = sorted(principal.roles & self.allowed)
        if not admitted:
            raise HTTPException(status_code=403, detail=self.refusal)
        # The route sees the role it admitted (a provider's list may hold others first).
        if principal.role == admitted[0]:
            return principal
        return replace(principal, role=admitted[0])


async def authenticated(request: Request, token: str | None) -> Principal:
    """Any valid token (the bearer scheme's, or None): the caller's `Principal`."""
    server: ResourceServer = request.app.state.resource_server
    if not token:
        raise HTTPException(
            status_code=401, detail="bearer token required", headers={"WWW-Authenticate": "Bearer"}
        )
    return await server.authenticate(token)


def requires(*roles: str) -> Any:
    """The dependency admitting a valid token with one of `roles` (401 without one,
    403 otherwise): `Annotated[Principal, requires("owner")]`. The roles are also the
    route's scopes in the OpenAPI security requirement, so a client (and the
    access-matrix test) reads from the schema who may call it."""
    allowed = frozenset(roles)
    return Security(_RoleBearer(allowed), scopes=sorted(allowed))


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token (missing, expired, tampered or foreign)"},
    403: {"description": "The token's role or subject may not do this"},
}


def install_resource_server(app: FastAPI, server: ResourceServer) -> None:
    """Give `app` its verifier; its OpenAPI then names the real token URL and lists
    the 401/403 answers on every route that needs a token."""
    app.state.resource_server = server
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.get("components", {}).get("securitySchemes", {})
            roles: set[str] = set()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    needs = [s["bearer"] for s in operation.get("security", []) if "bearer" in s]
                    if needs:
                        roles.update(role for scopes in needs for role in scopes)
                        responses = operation.setdefault("responses", {})
                        for code, body in AUTH_RESPONSES.items():
                            responses.setdefault(str(code), dict(body))
            if "bearer" in schemes:
                flow = schemes["bearer"]["flows"]["password"]
                flow["tokenUrl"] = server.settings.token_url
                flow["scopes"] = {role: f"a token with the role {role}" for role in sorted(roles)}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
