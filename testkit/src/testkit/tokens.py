"""Signed access tokens for tests that run a service's ASGI app without identity-service.

One test issuer (an ES256 key made once per process) signs tokens shaped like
identity-service's; `resource_server()` is the verifier that trusts exactly its key,
handed to a service's `create_app(container, resource_server=...)`:

    app = create_app(container, resource_server=tokens.resource_server())
    await http.get("/orders/o1", headers=tokens.customer("c1"))
"""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from service_kit.auth import AuthSettings, ResourceServer

SETTINGS = AuthSettings.from_env({})  # the defaults every service uses: issuer, audience
KID = "testkit"


@cache
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def jwks() -> dict[str, Any]:
    """The test issuer's public key set, as a JWKS document."""
    public = jwt.algorithms.ECAlgorithm.to_jwk(_key().public_key(), as_dict=True)
    return {"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]}


def resource_server(settings: AuthSettings = SETTINGS) -> ResourceServer:
    return ResourceServer.with_keys(settings, jwks())


def token(
    sub: str,
    role: str,
    *,
    region: str | None = None,
    expires_in: float = 900,
    **claims: Any,
) -> str:
    """An access token for `sub` with `role` (and a rider's `region`); `claims`
    override the standard ones (e.g. `iss`, `aud`) to build foreign tokens."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": SETTINGS.issuer,
        "aud": SETTINGS.audience,
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + int(expires_in),
        "jti": uuid.uuid4().hex,
    }
    if region is not None:
        body["region"] = region
    return jwt.encode({**body, **claims}, _key(), algorithm="ES256", headers={"kid": KID})


def bearer(sub: str, role: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, role, **kwargs)}"}


def customer(sub: str) -> dict[str, str]:
    return bearer(sub, "customer")


def owner(sub: str) -> dict[str, str]:
    return bearer(sub, "owner")


def rider(sub: str, region: str = "gangnam") -> dict[str, str]:
    return bearer(sub, "rider", region=region)
