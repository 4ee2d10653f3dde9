"""The cost of authenticating a request: order-service alone (SQLite, no broker) with
one order in it, served for a load tool to hit `GET /orders/{id}`.

    uv run python bench/auth_cost.py --port 38181
    wrk -t2 -c20 -d10s -s bench/auth_cost.lua http://127.0.0.1:38181/orders/<id>

It prints the order id and the header to send (in `WRK_HEADER`, read by the Lua
script). Tokens are verified with the testkit issuer's fixed key set: the same
signature and claim checks as against identity-service's JWKS once it is cached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile

import uvicorn
from sqlalchemy import delete

from order_service.bootstrap import bootstrap
from order_service.domain import commands
from order_service.domain.menu import RequestedItem
from order_service.domain.model import DeliveryAddress
from order_service.entrypoints.api import create_app
from service_kit.tables import outbox
from shared_events.contract import MenuItemChanged
from shared_events.envelope import wrap

CUSTOMER = "bench-customer"


async def seed(container) -> str:  # type: ignore[no-untyped-def]
    await container.platform.migrate()
    item = MenuItemChanged(
        store_id="s1", menu_item_id="m1", name="Kimbap", price=4500, stock=10**6,
        available=True, revision=1,
    )  # fmt: skip
    await container.bus.handle_event(wrap(item, producer="store-service"), item)
    place = commands.PlaceOrder(
        CUSTOMER, "s1", (RequestedItem("m1", 1),), DeliveryAddress("1 Bench-ro", "gangnam"),
        "01000000000", "tok_ok",
    )  # fmt: skip
    order_id = (await container.bus.handle(place)).order_id
    async with container.platform.writes.begin() as session:  # no relay retries as noise
        await session.execute(delete(outbox))
    return order_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="auth-cost-")
    os.environ.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{folder}/order.db")
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    container = bootstrap()
    order_id = asyncio.run(seed(container))
    from testkit import tokens

    header = f"Authorization: Bearer {tokens.token(CUSTOMER, 'customer', expires_in=3600)}"
    app = create_app(container, resource_server=tokens.resource_server())
    print(f"ORDER_ID={order_id}\nWRK_HEADER='{header}'", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
