"""The resource server refuses every token it should, and admits the right one.
The issuer's JWKS is served by an httpx mock transport; the cache's clock is ours."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, HTTPException
from jwt.algorithms import ECAlgorithm

from service_kit.auth import (
    VERIFIED_FOR_S,
    AuthSettings,
    JwksCache,
    Principal,
    ResourceServer,
    install_resource_server,
    requires,
)

ISSUER = "http://issuer.test"
AUDIENCE = "fooddelivery"
SETTINGS = AuthSettings(
    issuer=ISSUER,
    audience=AUDIENCE,
    jwks_url=f"{ISSUER}/.well-known/jwks.json",
    token_url=f"{ISSUER}/auth/token",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Keys by kid, a JWKS endpoint over them, and tokens signed with them."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.published: list[str] = []
        self.requests = 0
        self.add_key("k1")

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            jwk = dict(ECAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True))
            keys.append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})
        return {"keys": keys}

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests += 1
            return httpx.Response(200, json=self.jwks())

        return httpx.MockTransport(handle)

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "acc-1",
            "role": "customer",
            "iat": now,
            "exp": now + 900,
            "jti": "j1",
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="ES256", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(issuer: Issuer, clock: Clock) -> ResourceServer:
    jwks = JwksCache(SETTINGS.jwks_url, clock=clock, transport=issuer.transport())
    return ResourceServer(SETTINGS, jwks)


async def refused(server: ResourceServer, token: str) -> HTTPException:
    with pytest.raises(HTTPException) as caught:
        await server.authenticate(token)
    assert caught.value.status_code == 401
    assert (caught.value.headers or {})["WWW-Authenticate"].startswith("Bearer")
    return caught.value


async def test_a_valid_token_gives_the_principal(server, issuer):
    principal = await server.authenticate(issuer.token(role="rider", region="gangnam"))

    assert principal == Principal("acc-1", "rider", "gangnam", frozenset({"rider"}))


async def test_an_expired_token_is_refused(server, issuer):
    now = int(time.time())
    error = await refused(server, issuer.token(iat=now - 2000, exp=now - 120))
    assert error.detail == "token expired"


async def test_expiry_within_the_leeway_is_still_accepted(server, issuer):
    now = int(time.time())
    assert await server.authenticate(issuer.token(iat=now - 900, exp=now - 5))


async def test_a_token_not_yet_valid_is_refused(server, issuer):
    await refused(server, issuer.token(nbf=int(time.time()) + 300))


async def test_a_token_of_another_issuer_is_refused(server, issuer):
    await refused(server, issuer.token(iss="http://elsewhere.test"))


async def test_a_token_for_another_audience_is_refused(server, issuer):
    await refused(server, issuer.token(aud="another-platform"))


async def test_a_token_signed_with_another_key_under_a_known_kid_is_refused(server, issuer):
    impostor = Issuer()  # its own k1, never published by our issuer
    await refused(server, impostor.token("k1"))


async def test_alg_none_is_refused(server, issuer):
    valid = jwt.decode(issuer.token(), options={"verify_signature": False})
    await refused(server, forged({"alg": "none", "kid": "k1", "typ": "JWT"}, valid))


async def test_hs256_signed_with_the_public_key_is_refused(server, issuer):
    """The classic confusion: the public key (which anyone has) used as an HMAC secret."""
    public_pem = (
        issuer.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    valid = jwt.decode(issuer.token(), options={"verify_signature": False})
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    unsigned = forged(header, valid).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()

    await refused(server, f"{unsigned}.{b64(signature)}")


async def test_a_tampered_payload_is_refused(server, issuer):
    header, _, signature = issuer.token().split(".")
    valid = jwt.decode(issuer.token(), options={"verify_signature": False})
    raised = b64(json.dumps({**valid, "role": "owner"}).encode())

    await refused(server, f"{header}.{raised}.{signature}")


async def test_garbage_and_a_token_without_kid_or_subject_are_refused(server, issuer):
    await refused(server, "not-a-token")
    unnamed = jwt.encode(
        jwt.decode(issuer.token(), options={"verify_signature": False}),
        issuer.keys["k1"],
        algorithm="ES256",
    )
    await refused(server, unnamed)
    await refused(server, issuer.token(sub=None))


async def test_an_unknown_kid_refetches_the_keys_but_not_more_often_than_allowed(
    server, issuer, clock
):
    await server.authenticate(issuer.token())
    assert issuer.requests == 1

    issuer.add_key("k2")  # the issuer rotated its key
    clock.now += SETTINGS_MIN_REFETCH
    assert (await server.authenticate(issuer.token("k2"))).sub == "acc-1"
    assert issuer.requests == 2

    # Forged kids right after cannot make it fetch again until the interval passes.
    for _ in range(5):
        await refused(server, _foreign(issuer))
    assert issuer.requests == 2
    clock.now += SETTINGS_MIN_REFETCH
    await refused(server, _foreign(issuer))
    assert issuer.requests == 3


SETTINGS_MIN_REFETCH = JwksCache("x").min_refetch_s


def _foreign(issuer: Issuer) -> str:
    if "k9" not in issuer.keys:
        issuer.add_key("k9", publish=False)
    return issuer.token("k9")


async def test_the_keys_are_cached_and_refreshed_when_old(server, issuer, clock):
    for _ in range(3):
        await server.authenticate(issuer.token())
    assert issuer.requests == 1

    clock.now += server.jwks.max_age_s
    await server.authenticate(issuer.token())
    assert issuer.requests == 2


async def test_an_unreachable_issuer_is_a_503_not_a_401(issuer, clock):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    jwks = JwksCache(SETTINGS.jwks_url, clock=clock, transport=httpx.MockTransport(down))
    with pytest.raises(HTTPException) as caught:
        await ResourceServer(SETTINGS, jwks).authenticate(issuer.token())
    assert caught.value.status_code == 503


def test_symmetric_and_none_algorithms_cannot_be_configured():
    for algorithms in (("HS256",), ("ES256", "none"), ()):
        with pytest.raises(ValueError):
            AuthSettings(ISSUER, AUDIENCE, "u", "t", algorithms=algorithms)


async def test_a_role_list_at_a_dotted_claim_path_is_understood(issuer, clock):
    """As Keycloak puts realm roles: {"realm_access": {"roles": [...]}}."""
    settings = AuthSettings(
        ISSUER, AUDIENCE, SETTINGS.jwks_url, SETTINGS.token_url, role_claim="realm_access.roles"
    )
    jwks = JwksCache(settings.jwks_url, clock=clock, transport=issuer.transport())
    token = issuer.token(role=None, realm_access={"roles": ["offline_access", "owner"]})

    principal = await ResourceServer(settings, jwks).authenticate(token)

    assert "owner" in principal.roles


# ------------------------------------------------------------ the FastAPI dependencies

Owner = Annotated[Principal, requires("owner")]


@pytest.fixture
def app(server: ResourceServer) -> FastAPI:
    app = FastAPI()
    install_resource_server(app, server)

    @app.get("/mine")
    async def mine(actor: Owner) -> dict[str, str]:
        return {"sub": actor.sub}

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
async def http(app: FastAPI):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        yield client


async def test_the_route_answers_401_403_or_the_principal(http, issuer):
    missing = await http.get("/mine")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"

    garbage = await http.get("/mine", headers={"Authorization": "Bearer nonsense"})
    assert garbage.status_code == 401
    assert garbage.headers["WWW-Authenticate"].startswith("Bearer error=")

    wrong_role = await http.get("/mine", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert wrong_role.status_code == 403

    owner = issuer.token(role="owner", sub="own-1")
    ok = await http.get("/mine", headers={"Authorization": f"Bearer {owner}"})
    assert ok.status_code == 200 and ok.json() == {"sub": "own-1"}

    assert (await http.get("/public")).status_code == 200


async def test_a_route_sees_the_role_it_admitted_from_a_list_of_roles(server, issuer):
    app = FastAPI()
    install_resource_server(app, server)

    @app.get("/kitchen")
    async def kitchen(actor: Owner) -> dict[str, str]:
        return {"role": actor.role}

    token = issuer.token(role=["offline_access", "owner"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        response = await client.get("/kitchen", headers={"Authorization": f"Bearer {token}"})

    assert response.json() == {"role": "owner"}


async def test_openapi_declares_the_scheme_the_token_url_and_the_answers(http):
    schema = (await http.get("/openapi.json")).json()

    scheme = schema["components"]["securitySchemes"]["bearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == SETTINGS.token_url
    mine = schema["paths"]["/mine"]["get"]
    # The route's roles are its scopes, each declared in the scheme's flow.
    assert mine["security"] == [{"bearer": ["owner"]}]
    assert "owner" in scheme["flows"]["password"]["scopes"]
    assert {"401", "403"} <= set(mine["responses"])
    assert "security" not in schema["paths"]["/public"]["get"]


async def test_a_fixed_key_set_verifies_its_tokens_without_fetching(issuer):
    server = ResourceServer.with_keys(SETTINGS, issuer.jwks())
    principal = await server.authenticate(issuer.token(sub="acc-9"))
    assert (principal.sub, principal.role) == ("acc-9", "customer")
    issuer.add_key("k2", publish=False)  # not in the fixed set: refused, never fetched
    assert (await refused(server, issuer.token("k2"))).detail == "unknown signing key"
    assert issuer.requests == 0


class CountingKeys:
    """A key source that counts the lookups: one per signature actually checked."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lookups = 0

    async def get(self, kid: str) -> Any:
        self.lookups += 1
        return await self.inner.get(kid)


def counting_server(issuer: Issuer, clock: Clock) -> tuple[CountingKeys, Clock, ResourceServer]:
    """A resource server over counted JWKS lookups, on a wall clock of ours."""
    keys = CountingKeys(JwksCache(SETTINGS.jwks_url, clock=clock, transport=issuer.transport()))
    wall = Clock()
    wall.now = time.time()
    return keys, wall, ResourceServer(SETTINGS, keys, clock=wall)


async def test_a_verified_token_is_remembered_until_it_expires_and_no_longer(issuer, clock):
    keys, wall, server = counting_server(issuer, clock)
    token = issuer.token(exp=int(wall.now) + 60)

    first = await server.authenticate(token)
    assert await server.authenticate(token) == first
    assert keys.lookups == 1  # the second request checked no signature

    wall.now = int(wall.now) + 60 + SETTINGS.leeway_s  # where jwt would call it expired
    await server.authenticate(token)  # (jwt's own clock has not moved: still valid)
    assert keys.lookups == 2  # not taken from memory past its expiry


async def test_a_refused_token_is_not_remembered(issuer, clock):
    keys = CountingKeys(JwksCache(SETTINGS.jwks_url, clock=clock, transport=issuer.transport()))
    server = ResourceServer(SETTINGS, keys)
    issuer.add_key("k2", publish=False)
    token = issuer.token(kid="k2")
    await refused(server, token)
    issuer.published.append("k2")  # the issuer rotates the key in
    clock.now += 60  # past the refetch guard
    assert (await server.authenticate(token)).sub == "acc-1"


async def test_a_verified_token_is_checked_again_after_a_short_while(issuer, clock):
    keys, wall, server = counting_server(issuer, clock)
    token = issuer.token(exp=int(wall.now) + 3600)
    await server.authenticate(token)
    await server.authenticate(token)
    checked = keys.lookups

    wall.now += VERIFIED_FOR_S  # long before its exp
    await server.authenticate(token)
    assert keys.lookups == checked + 1


async def test_a_key_revoked_from_the_jwks_stops_working_at_the_refresh(issuer, clock):
    jwks = JwksCache(SETTINGS.jwks_url, clock=clock, transport=issuer.transport())
    server = ResourceServer(SETTINGS, jwks)
    issuer.add_key("k2")
    old, new = issuer.token("k1", sub="acc-old"), issuer.token("k2", sub="acc-new")
    assert (await server.authenticate(old)).sub == "acc-old"
    assert (await server.authenticate(old)).sub == "acc-old"  # remembered

    issuer.published.remove("k1")  # revoked
    clock.now += jwks.max_age_s  # the key set is due for its refresh
    assert (await server.authenticate(new)).sub == "acc-new"  # ... which happens here
    assert (await refused(server, old)).detail == "unknown signing key"  # no longer remembered
    await jwks.aclose()
