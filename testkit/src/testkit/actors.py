"""The people who use the system, as HTTP clients: customers, store owners, riders.

The end-to-end tests and `make demo` drive the running services through these,
so both speak the board's ubiquitous language and the same HTTP contract.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Endpoints:
    order: str = "http://127.0.0.1:8081"
    store: str = "http://127.0.0.1:8082"
    delivery: str = "http://127.0.0.1:8083"
    mypage: str = "http://127.0.0.1:8084"


class Actor:
    def __init__(self, http: httpx.AsyncClient, endpoints: Endpoints, actor_id: str) -> None:
        self.http = http
        self.at = endpoints
        self.id = actor_id
        self.headers = {"X-Actor-Id": actor_id}


class StoreOwner(Actor):
    async def register_store(self, store_id: str, name: str, region: str) -> httpx.Response:
        return await self.http.put(
            f"{self.at.store}/stores/{store_id}",
            headers=self.headers,
            json={"name": name, "region": region},
        )

    async def set_menu_item(
        self, store_id: str, item_id: str, name: str, price: int, stock: int
    ) -> httpx.Response:
        return await self.http.put(
            f"{self.at.store}/stores/{store_id}/menu/{item_id}",
            headers=self.headers,
            json={"name": name, "price": price, "stock": stock},
        )

    async def menu(self, store_id: str) -> dict[str, Any]:
        return (await self.http.get(f"{self.at.store}/stores/{store_id}/menu")).json()

    async def stock(self, store_id: str, item_id: str) -> int:
        items = (await self.menu(store_id))["items"]
        return next(i["stock"] for i in items if i["item_id"] == item_id)

    async def inbox(self, store_id: str, status: str | None = None) -> httpx.Response:
        params = {"status": status} if status else {}
        return await self.http.get(
            f"{self.at.store}/stores/{store_id}/orders", headers=self.headers, params=params
        )

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
        return await self.http.put(
            f"{self.at.store}/store-orders/{order_id}/{action}", headers=self.headers, json=body
        )

    async def ticket_arrived(self, store_id: str, order_id: str) -> bool:
        """Whether OrderPlaced has reached the owner's inbox."""
        r = await self.inbox(store_id)
        return r.status_code == 200 and any(o["order_id"] == order_id for o in r.json()["orders"])


class Customer(Actor):
    async def place_order(
        self,
        store_id: str,
        items: list[tuple[str, int]],
        *,
        region: str = "gangnam",
        card_token: str = "tok_ok",
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self.http.post(
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
        return await self.http.delete(f"{self.at.order}/orders/{order_id}", headers=self.headers)

    async def order(self, order_id: str) -> httpx.Response:
        return await self.http.get(f"{self.at.order}/orders/{order_id}", headers=self.headers)

    async def status_page(self, order_id: str) -> dict[str, Any] | None:
        r = await self.http.get(f"{self.at.mypage}/mypage/orders/{order_id}", headers=self.headers)
        return r.json() if r.status_code == 200 else None

    async def notifications(self) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"{self.at.mypage}/mypage/customers/{self.id}/notifications", headers=self.headers
        )
        return r.json()["notifications"] if r.status_code == 200 else []


class Rider(Actor):
    async def offers(self, region: str) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"{self.at.delivery}/deliveries",
            headers=self.headers,
            params={"region": region, "status": "WAITING"},
        )
        return r.json()["deliveries"] if r.status_code == 200 else []

    async def is_offered(self, region: str, order_id: str) -> bool:
        return any(d["order_id"] == order_id for d in await self.offers(region))

    async def pick(self, order_id: str) -> httpx.Response:
        return await self.http.put(
            f"{self.at.delivery}/deliveries/{order_id}/pick", headers=self.headers
        )

    async def confirm(self, order_id: str) -> httpx.Response:
        return await self.http.put(
            f"{self.at.delivery}/deliveries/{order_id}/confirm", headers=self.headers
        )

    async def return_food(self, order_id: str, reason: str) -> httpx.Response:
        return await self.http.put(
            f"{self.at.delivery}/deliveries/{order_id}/return",
            headers=self.headers,
            json={"reason": reason},
        )

    async def delivery(self, order_id: str) -> httpx.Response:
        return await self.http.get(
            f"{self.at.delivery}/deliveries/{order_id}", headers=self.headers
        )


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float = 30,
    what: str = "condition",
    interval: float = 0.05,
) -> T:
    """Poll until `probe()` is truthy; the events travel through Kafka meanwhile."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out after {within}s waiting for {what}; last: {last!r}")
