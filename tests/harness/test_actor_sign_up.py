"""An actor's sign-up whose answer is lost (the connection dropped under load) is sent
again; the 409 it then gets says the first one landed, so the actor signs in with its
own email and password instead of failing. Against a fake identity-service: an
`httpx.MockTransport` that keeps accounts by email and issues tokens for them."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import jwt
import pytest

from testkit.actors import SIGN_UP_ATTEMPTS, Customer, Endpoints, StoreOwner
from testkit.world import World

IDENTITY = "http://identity.test"
KEY = "the fake identity-service signs its tokens with this"


class FakeIdentity:
    """Accounts by email; `lose_answers` sign-up answers are dropped after the account
    was created, as a connection reset after the server committed would."""

    def __init__(self, lose_answers: int = 0) -> None:
        self.accounts: dict[str, tuple[str, str]] = {}  # email -> (account id, password)
        self.lose_answers = lose_answers
        self.sign_ups = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/accounts":
            return self._sign_up(request)
        if request.url.path == "/auth/token":
            return self._token(request)
        return httpx.Response(404)

    def _sign_up(self, request: httpx.Request) -> httpx.Response:
        self.sign_ups += 1
        body = httpx.Response(200, content=request.content).json()
        if body["email"] in self.accounts:
            answer = httpx.Response(409, json={"detail": "email already registered"})
        else:
            account_id = f"acc-{len(self.accounts) + 1}"
            self.accounts[body["email"]] = (account_id, body["password"])
            answer = httpx.Response(201, json={"account_id": account_id})
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadError("connection reset", request=request)
        return answer

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        account = self.accounts.get(form.get("username", ""))
        if account is None or account[1] != form.get("password"):
            return httpx.Response(400, json={"error": "invalid_grant"})
        access = jwt.encode({"sub": account[0]}, KEY, algorithm="HS256")
        return httpx.Response(
            200,
            json={"access_token": access, "expires_in": 900, "refresh_token": "r-" + account[0]},
        )


def customer(identity: FakeIdentity) -> tuple[httpx.AsyncClient, Customer]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(identity))
    return http, Customer(http, Endpoints(identity=IDENTITY), "Ada")


async def test_a_sign_up_whose_answer_was_lost_signs_in_on_the_409() -> None:
    identity = FakeIdentity(lose_answers=1)
    http, ada = customer(identity)
    async with http:
        account_id = await ada.sign_up()
        headers = await ada.auth_headers()
    assert account_id == identity.accounts[ada.email][0]
    assert identity.sign_ups == 2 and len(identity.accounts) == 1
    token = headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == account_id


async def test_a_sign_up_answered_at_once_needs_no_retry() -> None:
    identity = FakeIdentity()
    http, ada = customer(identity)
    async with http:
        assert await ada.sign_up() == identity.accounts[ada.email][0]
    assert identity.sign_ups == 1


async def test_a_409_on_the_first_attempt_is_someone_elses_account() -> None:
    identity = FakeIdentity()
    http, ada = customer(identity)
    identity.accounts[ada.email] = ("acc-other", "not-ada's-password")
    async with http:
        with pytest.raises(httpx.HTTPStatusError):
            await ada.sign_up()
    assert identity.sign_ups == 1


async def test_answers_lost_every_time_give_up_after_the_last_attempt() -> None:
    identity = FakeIdentity(lose_answers=99)
    http, ada = customer(identity)
    async with http:
        with pytest.raises(httpx.ReadError):
            await ada.sign_up()
    assert identity.sign_ups == SIGN_UP_ATTEMPTS and len(identity.accounts) == 1


async def test_a_worlds_customers_and_riders_sign_up_once_and_act_many_times() -> None:
    identity = FakeIdentity()
    async with httpx.AsyncClient(transport=httpx.MockTransport(identity)) as http:
        world = World(http, Endpoints(identity=IDENTITY), accounts=4)
        world.owners["s"], world.items["s"] = StoreOwner(http, world.at, "owner"), ("a", "b")
        first = world.plan(6)
        await world.sign_up(first)
        second = world.plan(6)
        await world.sign_up(second)
    plans = first + second
    # Every four plans in a row have a customer and a rider each of their own.
    for window in (plans[i : i + 4] for i in range(len(plans) - 3)):
        assert len({id(p.customer) for p in window}) == len({id(p.rider) for p in window}) == 4
    assert identity.sign_ups == len(identity.accounts) == 8  # 4 customers, 4 riders, once
