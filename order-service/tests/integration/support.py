"""What the integration tests share: the service under test and its helpers."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from order_service.adapters.payment import FakeCardGateway
from order_service.bootstrap import Container
from order_service.entrypoints.api import create_app
from service_kit.tables import outbox
from shared_events.contract import MenuItemChanged, Payload
from shared_events.envelope import wrap
from testkit import tokens


class RendezvousGateway(FakeCardGateway):
    """Optionally holds charges until `parties` of them are in flight, so two requests
    are both past their checks before either commits: a deterministic race."""

    def __init__(self) -> None:
        super().__init__()
        self.parties = 1
        self._arrived = 0
        self._all_here = asyncio.Event()

    async def charge(self, order_id: str, amount: int, card_token: str) -> str:
        reference = await super().charge(order_id, amount, card_token)
        self._arrived += 1
        if self._arrived >= self.parties:
            self._all_here.set()
        await asyncio.wait_for(self._all_here.wait(), timeout=10)
        return reference


@asynccontextmanager
async def serving(container: Container, gateway: RendezvousGateway) -> AsyncIterator[Service]:
    """The real app on `container`, its lifespan running (the dispatcher, the wakes)."""
    app = create_app(container, resource_server=tokens.resource_server())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://order-service"
        ) as http,
    ):
        yield Service(http, container, gateway)


@dataclass
class Service:
    http: httpx.AsyncClient
    container: Container
    gateway: RendezvousGateway

    async def stock(self, item: str = "m1", **fields: Any) -> None:
        event = MenuItemChanged(
            **{
                "store_id": "s1",
                "menu_item_id": item,
                "name": "Bibimbap",
                "price": 9000,
                "stock": 50,
                "available": True,
                "revision": 1,
                **fields,
            }
        )
        await self.container.bus.handle_event(wrap(event, producer="store-service"), event)

    async def place(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """A stocked item ordered by the customer: the 201 body."""
        await self.stock()
        response = await self.http.post("/orders", json=body(), headers=headers or CUSTOMER)
        assert response.status_code == 201, response.text
        return response.json()

    async def kitchen(self, event: Payload, *, bus: Any = None) -> bool:
        """A store event, as the worker would apply it (through a bus's policies)."""
        envelope = wrap(event, producer="store-service")
        return await (bus or self.container.bus).handle_event(envelope, event)

    async def get(self, order_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/orders/{order_id}", headers=CUSTOMER)
        assert response.status_code == 200, response.text
        return response.json()

    async def count(self, table: Any) -> int:
        async with self.container.platform.sessions() as session:
            return (await session.execute(select(func.count()).select_from(table))).scalar_one()

    async def outbox(self) -> list[Any]:
        async with self.container.platform.sessions() as session:
            return list((await session.execute(select(outbox).order_by(outbox.c.id))).all())


CUSTOMER = tokens.customer("c1")
BODY: dict[str, Any] = {
    "store_id": "s1",
    "items": [{"menu_item_id": "m1", "quantity": 2}],
    "delivery_address": {"line": "12 Teheran-ro", "region": "gangnam"},
    "phone": "01012345678",
    "payment": {"card_token": "tok_ok"},
}


def body(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BODY), **changes}


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll until `check` holds, failing at the deadline: never a fixed sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"not within {within}s"
        await asyncio.sleep(0.02)
