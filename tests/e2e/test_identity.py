"""identity-service as the launcher runs it (a real process, started first): an
account's token verifies through the JWKS the process serves over HTTP, with the
issuer name every service of the system is given."""

import uuid

import pytest

from service_kit.auth import AuthSettings, ResourceServer

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def test_a_token_from_the_running_issuer_verifies_against_its_jwks(http, system):
    identity = system.url("identity-service")
    email = f"rider-{uuid.uuid4().hex[:8]}@example.com"
    account = {"email": email, "password": "correct horse", "role": "rider", "name": "Park"}

    signed_up = await http.post(f"{identity}/auth/accounts", json={**account, "region": "mapo"})
    assert signed_up.status_code == 201, signed_up.text
    form = {"grant_type": "password", "username": email, "password": "correct horse"}
    token = await http.post(f"{identity}/auth/token", data=form)
    assert token.status_code == 200, token.text

    # The settings the launcher gives every service (AUTH_ISSUER = this process).
    settings = AuthSettings.from_env(system.env_for(system.spec("order-service")))
    principal = await ResourceServer(settings).authenticate(token.json()["access_token"])

    assert principal.sub == signed_up.json()["account_id"]
    assert (principal.role, principal.region) == ("rider", "mapo")
    assert "identity-service-worker" not in system.processes  # an API alone
