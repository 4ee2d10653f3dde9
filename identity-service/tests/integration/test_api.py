"""The real identity app over a real database (SQLite file and PostgreSQL), its
lifespan running (migrations), real Argon2 and real ES256 keys. The chassis'
resource server verifies what it issues through its JWKS endpoint."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI

from identity_service.adapters.notifier import LogNotifier
from identity_service.bootstrap import Container, bootstrap
from identity_service.entrypoints.api import create_app
from service_kit.auth import (
    AuthSettings,
    JwksCache,
    Principal,
    ResourceServer,
    install_resource_server,
    requires,
)
from service_kit.runtime import configure_logging

from ..unit.fakes import FakeNotifier

ISSUER = "http://identity.test"
PASSWORD = "correct horse"
KIM = {"email": "kim@example.com", "password": PASSWORD, "role": "customer", "name": "Kim"}
LEE = {"email": "lee@example.com", "password": PASSWORD, "role": "owner", "name": "Lee"}
RIDER = {
    "email": "park@example.com",
    "password": PASSWORD,
    "role": "rider",
    "name": "Park",
    "region": "gangnam",
}
Customer = Annotated[Principal, requires("customer")]


@dataclass
class Service:
    http: httpx.AsyncClient
    app: FastAPI
    container: Container
    notifier: FakeNotifier

    async def sign_up(self, body: dict[str, Any]) -> str:
        response = await self.http.post("/auth/accounts", json=body)
        assert response.status_code == 201, response.text
        return response.json()["account_id"]

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            "/auth/token", data={"grant_type": "password", "username": email, "password": password}
        )

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.http.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    def resource_server(self) -> ResourceServer:
        settings = AuthSettings.from_env({"AUTH_ISSUER": ISSUER})
        transport = httpx.ASGITransport(app=self.app)
        return ResourceServer(settings, JwksCache(settings.jwks_url, transport=transport))


@pytest.fixture
async def service(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> AsyncIterator[Service]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FOODDELIVERY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AUTH_ISSUER", ISSUER)
    monkeypatch.delenv("AUTH_SIGNING_KEY_FILE", raising=False)
    notifier = FakeNotifier()
    container = bootstrap(notifier=notifier)
    app = create_app(container)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.0.0.1", 40000)), base_url=ISSUER
        ) as http,
    ):
        yield Service(http, app, container, notifier)


def comparable(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "date"]
    return response.status_code, response.content, headers


async def test_sign_up_login_and_the_token_verified_through_the_jwks(service):
    account_id = await service.sign_up(RIDER)

    response = await service.login("Park@Example.com")

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["refresh_token"]
    principal = await service.resource_server().authenticate(body["access_token"])
    assert principal.sub == account_id
    assert (principal.role, principal.region) == ("rider", "gangnam")


async def test_a_protected_route_admits_the_issued_token_of_the_right_role_only(service):
    await service.sign_up(KIM)
    await service.sign_up(LEE)
    app = FastAPI()
    install_resource_server(app, service.resource_server())

    @app.get("/orders/mine")
    async def mine(actor: Customer) -> dict[str, str]:
        return {"sub": actor.sub}

    kim = (await service.login(KIM["email"])).json()["access_token"]
    lee = (await service.login(LEE["email"])).json()["access_token"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://order.test"
    ) as orders:
        ok = await orders.get("/orders/mine", headers={"Authorization": f"Bearer {kim}"})
        wrong_role = await orders.get("/orders/mine", headers={"Authorization": f"Bearer {lee}"})
        none = await orders.get("/orders/mine")

    assert ok.status_code == 200
    assert wrong_role.status_code == 403
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == "Bearer"


async def test_sign_up_refuses_a_taken_email_a_rider_without_region_and_a_weak_password(service):
    await service.sign_up(KIM)

    taken = await service.http.post("/auth/accounts", json={**KIM, "email": "KIM@example.com"})
    no_region = await service.http.post("/auth/accounts", json={**RIDER, "region": None})
    weak = await service.http.post("/auth/accounts", json={**LEE, "password": "short"})
    bad_email = await service.http.post("/auth/accounts", json={**LEE, "email": "not-an-email"})

    assert taken.status_code == 409
    assert no_region.status_code == 422
    assert weak.status_code == 422 and bad_email.status_code == 422


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_family(service):
    await service.sign_up(KIM)
    first = (await service.login(KIM["email"])).json()

    second = await service.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]

    reused = await service.refresh(first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    newest = await service.refresh(second.json()["refresh_token"])
    assert newest.status_code == 400


async def test_logout_revokes_the_refresh_token(service):
    await service.sign_up(KIM)
    tokens = (await service.login(KIM["email"])).json()

    out = await service.http.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})

    assert out.status_code == 204
    assert (await service.refresh(tokens["refresh_token"])).status_code == 400


async def test_six_wrong_passwords_lock_that_account_while_another_logs_in(service):
    await service.sign_up(KIM)
    await service.sign_up(LEE)

    answers = [(await service.login(KIM["email"], "wrong password")).status_code for _ in range(6)]

    assert answers == [400] * 5 + [429]
    locked = await service.login(KIM["email"])  # the right password waits too
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 900
    assert (await service.login(LEE["email"])).status_code == 200


async def test_an_unknown_email_and_a_wrong_password_get_identical_bytes(service):
    await service.sign_up(KIM)

    wrong_password = await service.login(KIM["email"], "wrong password")
    unknown_email = await service.login("nobody@example.com")

    assert wrong_password.status_code == 400
    assert comparable(wrong_password) == comparable(unknown_email)


async def test_a_reset_answers_alike_for_any_email_and_its_token_works_once(service):
    await service.sign_up(KIM)

    known = await service.http.post("/auth/password-reset", json={"email": KIM["email"]})
    unknown = await service.http.post("/auth/password-reset", json={"email": "no@example.com"})

    assert known.status_code == 202
    assert comparable(known) == comparable(unknown)
    ((_, email, token),) = service.notifier.sent
    assert email == KIM["email"]

    confirm = {"token": token, "new_password": "battery staple"}
    assert (
        await service.http.post("/auth/password-reset/confirm", json=confirm)
    ).status_code == 204
    again = await service.http.post("/auth/password-reset/confirm", json=confirm)
    assert again.status_code == 400
    assert (await service.login(KIM["email"], "battery staple")).status_code == 200
    assert (await service.login(KIM["email"])).status_code == 400


async def test_a_failing_notifier_still_answers_202(service):
    await service.sign_up(KIM)
    service.notifier.fail = True

    response = await service.http.post("/auth/password-reset", json={"email": KIM["email"]})

    assert response.status_code == 202


async def test_bad_token_requests_get_oauth_errors_not_500s(service):
    unsupported = await service.http.post("/auth/token", data={"grant_type": "client_credentials"})
    missing = await service.http.post("/auth/token", data={"grant_type": "password"})
    unknown_refresh = await service.refresh("never-issued")

    assert unsupported.json()["error"] == "unsupported_grant_type"
    assert missing.json()["error"] == "invalid_request"
    assert unknown_refresh.json()["error"] == "invalid_grant"
    assert {r.status_code for r in (unsupported, missing, unknown_refresh)} == {400}


async def test_discovery_names_the_issuer_and_publishes_only_a_public_key(service):
    config = (await service.http.get("/.well-known/openid-configuration")).json()
    jwks = (await service.http.get("/.well-known/jwks.json")).json()

    assert config["issuer"] == ISSUER
    assert config["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert config["token_endpoint"] == f"{ISSUER}/auth/token"
    (key,) = jwks["keys"]
    assert key["kty"] == "EC" and key["alg"] == "ES256" and key["kid"]
    assert "d" not in key  # the private part never leaves the service


async def test_readiness_is_the_database_alone(service):
    ready = await service.http.get("/health/ready")

    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True}


async def test_the_openapi_page_lists_every_route_with_its_models(service):
    schema = (await service.http.get("/openapi.json")).json()

    assert {
        "/auth/accounts",
        "/auth/token",
        "/auth/logout",
        "/auth/password-reset",
        "/auth/password-reset/confirm",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    } <= set(schema["paths"])
    form = schema["paths"]["/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in form
    assert "TokenBody" in schema["components"]["schemas"]


async def test_another_services_docs_page_may_call_the_token_endpoint(service):
    """Swagger UI's "Authorize" on order-service's /docs posts here from its own origin."""

    def preflight(origin: str):
        return service.http.options(
            "/auth/token",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )

    docs = await preflight("http://127.0.0.1:8081")
    elsewhere = await preflight("https://evil.example")

    assert docs.headers["access-control-allow-origin"] == "http://127.0.0.1:8081"
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_no_password_token_or_email_reaches_the_log(service, caplog, monkeypatch):
    """Even at LOG_LEVEL=DEBUG, with the process's logging set up as `serve` does."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    configure_logging("identity-service")
    service.container.notifier = LogNotifier()  # the default adapter
    caplog.set_level(logging.DEBUG)

    account_id = await service.sign_up(KIM)
    tokens = (await service.login(KIM["email"])).json()
    await service.login(KIM["email"], "wrong password")
    rotated = (await service.refresh(tokens["refresh_token"])).json()
    await service.refresh(tokens["refresh_token"])  # reuse: logged as a warning
    await service.http.post("/auth/password-reset", json={"email": KIM["email"]})

    logged = caplog.text
    assert f"password reset token issued for account {account_id}" in logged
    secrets = [PASSWORD, "wrong password", KIM["email"], tokens["access_token"]]
    secrets += [tokens["refresh_token"], rotated["refresh_token"], rotated["access_token"]]
    assert [s for s in secrets if s in logged] == []
