"""The people who use the system, as HTTP clients: customers, store owners, riders.

The end-to-end tests and `make demo` drive the running services through these,
so both speak the board's ubiquitous language and the same HTTP contract.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypeVar

import httpx
import jwt
from httpx_sse import aconnect_sse
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from testkit.waiting import eventually

T = TypeVar("T")
REFRESH_MARGIN_S = 60.0  # refresh an access token this long before it expires
SIGN_UP_ATTEMPTS = 3  # a sign-up whose answer was lost is sent again (then a 409 is ours)


@dataclass(frozen=True)
class Endpoints:
    order: str = "http://127.0.0.1:8081"
    store: str = "http://127.0.0.1:8082"
    delivery: str = "http://127.0.0.1:8083"
    mypage: str = "http://127.0.0.1:8084"
    identity: str = "http://127.0.0.1:8085"


class Actor:
    """A person with a real account: signed up at identity-service on first use,
    acting with `Authorization: Bearer`, refreshing the access token before it expires.
    `name` only makes the account's email readable; `id` is the account id (the
    token's `sub`), known once the actor has signed up (`await actor.sign_up()`)."""

    role: ClassVar[str]

    def __init__(
        self, http: httpx.AsyncClient, endpoints: Endpoints, name: str, *, region: str | None = None
    ) -> None:
        self.http = http
        self.at = endpoints
        self.name = name
        self.region = region
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "actor"
        self.email = f"{slug[:40]}.{secrets.token_hex(4)}@example.com"
        self.password = secrets.token_urlsafe(18)
        self._account_id: str | None = None
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        # Sent with every request besides the token (e.g. a W3C traceparent).
        self.headers: dict[str, str] = {}

    @property
    def id(self) -> str:
        if self._account_id is None:
            raise RuntimeError(f"{self.name} has not signed up yet")
        return self._account_id

    async def sign_up(self) -> str:
        """Create the account (once) and log in; the account id."""
        await self.auth_headers()
        return self.id

    async def auth_headers(self) -> dict[str, str]:
        async with self._lock:  # concurrent requests share one sign-up / refresh
            if self._account_id is None:
                await self._create_account()
            if self._access is None or time.monotonic() > self._expires_at - REFRESH_MARGIN_S:
                await self._renew()
        return {"Authorization": f"Bearer {self._access}"}

    async def _create_account(self) -> None:
        body: dict[str, Any] = {
            "email": self.email,
            "password": self.password,
            "role": self.role,
            "name": self.name[:100],
        }
        if self.region is not None:
            body["region"] = self.region
        # A lost answer (the connection dropped under load) says nothing of whether the
        # account was created: send the sign-up again; a 409 then means it was.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(httpx.TransportError),
            stop=stop_after_attempt(SIGN_UP_ATTEMPTS),
            reraise=True,
        ):
            with attempt:
                r = await self.http.post(f"{self.at.identity}/auth/accounts", json=body)
        if r.status_code == 409 and attempt.retry_state.attempt_number > 1:
            # An earlier attempt registered this email, so it is ours: sign in, and the
            # token's subject is the account id.
            await self._renew()
            assert self._access is not None
            claims = jwt.decode(self._access, options={"verify_signature": False})
            self._account_id = claims["sub"]
            return
        r.raise_for_status()
        self._account_id = r.json()["account_id"]

    async def _renew(self) -> None:
        form = {"grant_type": "password", "username": self.email, "password": self.password}
        if self._refresh is not None:  # rotate the refresh token; log in again if refused
            refreshed = await self._token(
                {"grant_type": "refresh_token", "refresh_token": self._refresh}
            )
            if refreshed:
                return
        if not await self._token(form):
            raise RuntimeError(f"{self.name} could not log in")

    async def _token(self, form: dict[str, str]) -> bool:
        r = await self.http.post(f"{self.at.identity}/auth/token", data=form)
        if r.status_code != 200:
            return False
        body = r.json()
        self._access, self._refresh = body["access_token"], body["refresh_token"]
        self._expires_at = time.monotonic() + body["expires_in"]
        return True

    async def request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """`method url` as this actor (its bearer token beside `headers`)."""
        sent = {**self.headers, **(headers or {}), **await self.auth_headers()}
        return await self.http.request(method, url, headers=sent, **kwargs)


class StoreOwner(Actor):
    role = "owner"

    async def register_store(self, store_id: str, name: str, region: str) -> httpx.Response:
        return await self.request(
            "PUT", f"{self.at.store}/stores/{store_id}", json={"name": name, "region": region}
        )

    async def set_menu_item(
        self, store_id: str, item_id: str, name: str, price: int, stock: int
    ) -> httpx.Response:
        return await self.request(
            "PUT",
            f"{self.at.store}/stores/{store_id}/menu/{item_id}",
            json={"name": name, "price": price, "stock": stock},
        )

    async def menu(self, store_id: str) -> dict[str, Any]:
        return (await self.http.get(f"{self.at.store}/stores/{store_id}/menu")).json()

    async def stock(self, store_id: str, item_id: str) -> int:
        items = (await self.menu(store_id))["items"]
        return next(i["stock"] for i in items if i["item_id"] == item_id)

    async def inbox(self, store_id: str, status: str | None = None) -> httpx.Response:
        params = {"status": status} if status else {}
        return await self.request("GET", f"{self.at.store}/stores/{store_id}/orders", params=params)

    async def accept(self, order_id: str) -> httpx.Response:
        return await self._ticket(order_id, "acceptance", {"accepted": True})

    async def reject(self, order_id: str, reason: str) -> httpx.Response:
        return await self._ticket(order_id, "acceptance", {"accepted": False, "reason": reason})

    async def start_cooking(self, order_id: str) -> httpx.Response:
        return await self._ticket(order_id, "cooking-start")

    async def finish_cooking(self, order_id: str) -> httpx.Response:
        return await self._ticket(order_id, "cooking-finish")

    async def _ticket(
        self, order_id: str, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.request(
            "PUT", f"{self.at.store}/store-orders/{order_id}/{action}", json=body
        )

    async def ticket_arrived(self, store_id: str, order_id: str) -> bool:
        """Whether OrderPlaced has reached the owner's inbox."""
        r = await self.inbox(store_id)
        return r.status_code == 200 and any(o["order_id"] == order_id for o in r.json()["orders"])


class Customer(Actor):
    role = "customer"

    async def place_order(
        self,
        store_id: str,
        items: list[tuple[str, int]],
        *,
        region: str = "gangnam",
        card_token: str = "tok_ok",
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await self.request(
            "POST",
            f"{self.at.order}/orders",
            headers=headers,
            json={
                "store_id": store_id,
                "items": [{"menu_item_id": i, "quantity": q} for i, q in items],
                "delivery_address": {"line": "12 Teheran-ro", "region": region},
                "phone": "010-1234-5678",
                "payment": {"card_token": card_token},
            },
        )

    async def cancel(self, order_id: str) -> httpx.Response:
        return await self.request("DELETE", f"{self.at.order}/orders/{order_id}")

    async def order(self, order_id: str) -> httpx.Response:
        return await self.request("GET", f"{self.at.order}/orders/{order_id}")

    async def status_page(self, order_id: str) -> dict[str, Any] | None:
        r = await self.request("GET", f"{self.at.mypage}/mypage/orders/{order_id}")
        return r.json() if r.status_code == 200 else None

    async def follow(self, order_id: str) -> AsyncIterator[dict[str, Any]]:
        """The status page as the web page watches it: the order's view now and after
        every change, from mypage's live feed. A feed ends after its `max_s`; the next
        one resumes from the last event's id, as a browser's EventSource does."""
        url = f"{self.at.mypage}/mypage/orders/{order_id}/stream"
        last: str | None = None
        while True:
            headers = {**self.headers, **await self.auth_headers()}
            if last is not None:
                headers["Last-Event-ID"] = last
            async with aconnect_sse(self.http, "GET", url, headers=headers) as feed:
                feed.response.raise_for_status()
                async for event in feed.aiter_sse():
                    if event.event == "order":
                        last = event.id
                        yield json.loads(event.data)

    async def orders(self, **params: Any) -> httpx.Response:
        """The customer's order list on mypage."""
        await self.sign_up()
        url = f"{self.at.mypage}/mypage/customers/{self.id}/orders"
        return await self.request("GET", url, params=params)

    async def notifications(self) -> list[dict[str, Any]]:
        await self.sign_up()
        r = await self.request("GET", f"{self.at.mypage}/mypage/customers/{self.id}/notifications")
        return r.json()["notifications"] if r.status_code == 200 else []


class Rider(Actor):
    role = "rider"

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: Endpoints,
        name: str,
        *,
        region: str | None = "gangnam",
    ) -> None:
        super().__init__(http, endpoints, name, region=region)

    async def offers(self, region: str | None = None) -> list[dict[str, Any]]:
        """Waiting deliveries in `region` (by default the rider's own, from the token)."""
        params = {"status": "WAITING", **({"region": region} if region else {})}
        r = await self.request("GET", f"{self.at.delivery}/deliveries", params=params)
        return r.json()["deliveries"] if r.status_code == 200 else []

    async def is_offered(self, region: str | None, order_id: str) -> bool:
        return any(d["order_id"] == order_id for d in await self.offers(region))

    async def pick(self, order_id: str) -> httpx.Response:
        return await self.request("PUT", f"{self.at.delivery}/deliveries/{order_id}/pick")

    async def confirm(self, order_id: str) -> httpx.Response:
        return await self.request("PUT", f"{self.at.delivery}/deliveries/{order_id}/confirm")

    async def return_food(self, order_id: str, reason: str) -> httpx.Response:
        return await self.request(
            "PUT", f"{self.at.delivery}/deliveries/{order_id}/return", json={"reason": reason}
        )

    async def delivery(self, order_id: str) -> httpx.Response:
        return await self.request("GET", f"{self.at.delivery}/deliveries/{order_id}")


# `eventually` for the actors' journeys (the events travel through Kafka meanwhile):
# a TimeoutError at the deadline, which the load driver and the demo count as a
# failed step.
wait_for = partial(eventually, interval=0.05, error=TimeoutError)
