"""`make demo`: the seed scenarios, driven over HTTP against a running `make run`.

Each step prints what an actor did and what came back; after each scenario the
customer's mypage timeline and the KakaoTalk notifications sent are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable

import httpx

from testkit.actors import Customer, Endpoints, Rider, StoreOwner, wait_for

REGION = "gangnam"


class Demo:
    def __init__(self, http: httpx.AsyncClient, endpoints: Endpoints) -> None:
        self.http, self.at = http, endpoints
        tag = uuid.uuid4().hex[:6]
        self.store, self.item = f"hansik-{tag}", f"bibimbap-{tag}"
        self.owner = StoreOwner(http, endpoints, f"owner-{tag}")
        self.riders = (
            Rider(http, endpoints, f"rider-kim-{tag}"),
            Rider(http, endpoints, f"rider-lee-{tag}"),
        )
        self.tag = tag
        self.customers = 0

    def step(self, who: str, what: str, response: httpx.Response | None = None) -> None:
        outcome = ""
        if response is not None:
            body = response.json()
            shown = body.get("status") or body.get("detail") or ""
            outcome = f"  -> {response.status_code} {shown}"
        print(f"  {who:<10} {what}{outcome}")

    def customer(self) -> Customer:
        self.customers += 1
        return Customer(self.http, self.at, f"customer-{self.customers}-{self.tag}")

    async def open_store(self) -> None:
        print(f"\n== Setting up: store {self.store} in {REGION}")
        self.step(
            "owner",
            "registers the store",
            await self.owner.register_store(self.store, "Hansik House", REGION),
        )
        r = await self.owner.set_menu_item(self.store, self.item, "Bibimbap", 9000, 20)
        self.step("owner", "puts Bibimbap on the menu at 9,000 won, 20 in stock", r)

    async def order(self, customer: Customer, quantity: int = 2) -> str:
        async def priced():
            r = await customer.place_order(self.store, [(self.item, quantity)])
            return r if r.status_code != 422 else None

        r = await wait_for(priced, what="the menu to reach the order-service")
        self.step("customer", f"orders {quantity} Bibimbap", r)
        order_id = r.json()["order_id"]
        await wait_for(
            lambda: self.owner.ticket_arrived(self.store, order_id),
            what="the ticket in the owner's inbox",
        )
        return order_id

    async def offered(self, order_id: str) -> None:
        await wait_for(
            lambda: self.riders[0].is_offered(REGION, order_id),
            what="the delivery offered to riders",
        )
        self.step("rider", f"sees the delivery offered in {REGION}")

    async def show(self, customer: Customer, order_id: str, final: str) -> None:
        async def reached():
            page = await customer.status_page(order_id)
            return page if page and page["status"] == final else None

        page = await wait_for(reached, what=f"mypage to show {final}")
        notes = await wait_for(
            lambda: self._sent(customer, order_id, final),
            what="the notification of the final status",
        )
        stock = await self.owner.stock(self.store, self.item)
        print(f"  mypage     status {page['status']}; timeline:")
        for entry in page["timeline"]:
            print(
                f"               {entry['at'][11:23]}  {entry['status']:<10} "
                f"({entry['event_type']})"
            )
        print("  kakaotalk  sent:")
        for note in notes:
            print(f"               {note['status']:<10} {note['message']}")
        print(f"  kitchen    Bibimbap stock now {stock}")

    async def _sent(self, customer: Customer, order_id: str, final: str):
        notes = [n for n in await customer.notifications() if n["order_id"] == order_id]
        done = any(n["status"] == final and n["state"] == "SENT" for n in notes)
        return notes if done else None

    # ------------------------------------------------------------------ scenarios

    async def happy_path(self) -> None:
        print("\n== 1. Happy path: placed, accepted, cooked, picked, delivered")
        customer = self.customer()
        order_id = await self.order(customer)
        self.step("owner", "accepts", await self.owner.accept(order_id))
        self.step("owner", "starts cooking", await self.owner.start_cooking(order_id))
        await self.offered(order_id)
        self.step("owner", "finishes cooking", await self.owner.finish_cooking(order_id))
        self.step("rider", "picks the food up", await self.riders[0].pick(order_id))
        self.step("rider", "confirms delivery", await self.riders[0].confirm(order_id))
        await self.show(customer, order_id, "DELIVERED")

    async def rejected(self) -> None:
        print("\n== 2. The store rejects: the payment is refunded, nothing is delivered")
        customer = self.customer()
        order_id = await self.order(customer)
        self.step("owner", "rejects: sold out", await self.owner.reject(order_id, "sold out"))
        await self.show(customer, order_id, "REJECTED")

    async def cancelled_before_cooking(self) -> None:
        print("\n== 3. The customer cancels before cooking starts")
        customer = self.customer()
        order_id = await self.order(customer)
        self.step("owner", "accepts", await self.owner.accept(order_id))
        self.step("customer", "cancels", await customer.cancel(order_id))
        await self.show(customer, order_id, "CANCELLED")
        self.step("owner", "tries to start cooking", await self.owner.start_cooking(order_id))

    async def cancel_too_late(self) -> None:
        print("\n== 4. Too late to cancel: cooking has started")
        customer = self.customer()
        order_id = await self.order(customer)
        self.step("owner", "accepts", await self.owner.accept(order_id))
        self.step("owner", "starts cooking", await self.owner.start_cooking(order_id))
        await wait_for(
            lambda: self._local_status(customer, order_id, "COOKING"),
            what="the order-service to hear that cooking started",
        )
        self.step("customer", "tries to cancel", await customer.cancel(order_id))
        await self.show(customer, order_id, "COOKING")

    async def _local_status(self, customer: Customer, order_id: str, status: str) -> bool:
        return (await customer.order(order_id)).json()["status"] == status

    async def returned(self) -> None:
        print("\n== 5. Delivered, then returned: the stock comes back")
        customer = self.customer()
        order_id = await self.order(customer, quantity=3)
        self.step("owner", "accepts", await self.owner.accept(order_id))
        self.step("owner", "starts cooking", await self.owner.start_cooking(order_id))
        await self.offered(order_id)
        self.step("rider", "picks the food up", await self.riders[0].pick(order_id))
        self.step("rider", "confirms delivery", await self.riders[0].confirm(order_id))
        self.step(
            "rider",
            "brings it back: customer refused",
            await self.riders[0].return_food(order_id, "customer refused"),
        )
        await self.show(customer, order_id, "RETURNED")

    async def race(self) -> None:
        print("\n== 6. Two riders race for one delivery")
        customer = self.customer()
        order_id = await self.order(customer)
        self.step("owner", "accepts", await self.owner.accept(order_id))
        self.step("owner", "starts cooking", await self.owner.start_cooking(order_id))
        await self.offered(order_id)
        kim, lee = self.riders
        first, second = await asyncio.gather(kim.pick(order_id), lee.pick(order_id))
        self.step("rider kim", "picks", first)
        self.step("rider lee", "picks at the same moment", second)
        winner, loser = (kim, lee) if first.status_code == 200 else (lee, kim)
        self.step("loser", "tries to confirm", await loser.confirm(order_id))
        self.step("winner", "confirms", await winner.confirm(order_id))
        await self.show(customer, order_id, "DELIVERED")


async def main(endpoints: Endpoints) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        demo = Demo(http, endpoints)
        await demo.open_store()
        scenarios: list[Callable[[], Awaitable[None]]] = [
            demo.happy_path,
            demo.rejected,
            demo.cancelled_before_cooking,
            demo.cancel_too_late,
            demo.returned,
            demo.race,
        ]
        for scenario in scenarios:
            await scenario()
    print("\nAll scenarios done.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--order", default=Endpoints.order)
    parser.add_argument("--store", default=Endpoints.store)
    parser.add_argument("--delivery", default=Endpoints.delivery)
    parser.add_argument("--mypage", default=Endpoints.mypage)
    parser.add_argument("--identity", default=Endpoints.identity)
    args = parser.parse_args()
    try:
        asyncio.run(
            main(Endpoints(args.order, args.store, args.delivery, args.mypage, args.identity))
        )
    except (httpx.ConnectError, TimeoutError) as exc:
        sys.exit(f"demo failed: {exc}\nIs `make run` running in another terminal?")
