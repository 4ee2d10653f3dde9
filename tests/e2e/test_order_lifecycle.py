"""The whole order lifecycle across the four services, as real processes over HTTP.

Customers, store owners and riders act through `testkit.actors`; every check
waits on a condition with a deadline while the events travel through Kafka.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from testkit.actors import Customer, Rider, StoreOwner, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

REGION = "gangnam"
STOCK = 10


class World:
    """One store with one dish, one customer and two riders, fresh for each test."""

    def __init__(self, http, system) -> None:
        tag = uuid.uuid4().hex[:8]
        self.system = system
        self.store, self.item = f"store-{tag}", f"bibimbap-{tag}"
        self.owner = StoreOwner(http, system.endpoints, f"owner-{tag}")
        self.customer = Customer(http, system.endpoints, f"customer-{tag}")
        self.rider = Rider(http, system.endpoints, f"rider-{tag}")
        self.other_rider = Rider(http, system.endpoints, f"rider2-{tag}")

    async def open_store(self) -> None:
        assert (await self.owner.register_store(self.store, "Hansik House", REGION)).is_success
        r = await self.owner.set_menu_item(self.store, self.item, "Bibimbap", 9000, STOCK)
        assert r.status_code == 200, r.text

    async def place_order(self, quantity: int = 2) -> str:
        """Place an order once the menu replica prices it, and wait for the ticket."""

        async def priced():
            r = await self.customer.place_order(self.store, [(self.item, quantity)])
            return r if r.status_code != 422 else None

        placed = await wait_for(priced, what="the order-service's menu replica")
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["order_id"]
        await wait_for(
            lambda: self.owner.ticket_arrived(self.store, order_id),
            what="the ticket in the owner's inbox",
        )
        return order_id

    async def cook(self, order_id: str) -> None:
        assert (await self.owner.accept(order_id)).status_code == 200
        assert (await self.owner.start_cooking(order_id)).status_code == 200
        await wait_for(
            lambda: self.rider.is_offered(REGION, order_id), what="the delivery offered to riders"
        )

    async def status(self, order_id: str, expected: str) -> dict:
        async def reached():
            page = await self.customer.status_page(order_id)
            return page if page and page["status"] == expected else None

        return await wait_for(reached, what=f"mypage to show {expected}")

    async def order_status(self, order_id: str, expected: str, payment: str | None = None):
        async def reached():
            body = (await self.customer.order(order_id)).json()
            ok = body["status"] == expected and (
                payment is None or body["payment"]["status"] == payment
            )
            return body if ok else None

        return await wait_for(reached, what=f"the order-service to say {expected}/{payment}")

    async def ticket_status(self, order_id: str, expected: str) -> dict:
        async def reached():
            r = await self.owner.inbox(self.store, expected)
            found = [o for o in r.json()["orders"] if o["order_id"] == order_id]
            return found[0] if found else None

        return await wait_for(reached, what=f"the kitchen ticket to be {expected}")

    async def stock(self, expected: int) -> None:
        async def reached():
            return await self.owner.stock(self.store, self.item) == expected

        await wait_for(reached, what=f"stock {expected}")


@pytest.fixture
async def world(http, system) -> World:
    w = World(http, system)
    await w.open_store()
    return w


def statuses(page: dict) -> list[str]:
    return [entry["status"] for entry in page["timeline"]]


async def test_happy_path_delivers_with_a_full_timeline_stock_and_notifications(world):
    # The customer watches the status page after every step, so each status is a
    # change they saw (a step overtaken by the next one on another topic is not).
    order_id = await world.place_order(quantity=2)
    await world.status(order_id, "PLACED")
    steps = [
        (world.owner.accept, "ACCEPTED"),
        (world.owner.start_cooking, "COOKING"),
        (world.owner.finish_cooking, "COOKED"),
        (world.rider.pick, "PICKED"),
        (world.rider.confirm, "DELIVERED"),
    ]
    for act, status in steps:
        if status == "PICKED":
            await wait_for(
                lambda: world.rider.is_offered(REGION, order_id),
                what="the delivery offered to riders",
            )
        r = await act(order_id)
        assert r.status_code == 200, r.text
        page = await world.status(order_id, status)

    expected = ["PLACED", "ACCEPTED", "COOKING", "COOKED", "PICKED", "DELIVERED"]
    assert statuses(page) == expected
    assert [e["event_type"] for e in page["timeline"]] == [
        "OrderPlaced",
        "OrderAccepted",
        "CookStarted",
        "CookFinished",
        "FoodPicked",
        "DeliveryConfirmed",
    ]
    await world.stock(STOCK - 2)

    async def all_sent():
        notes = await world.customer.notifications()
        done = [n for n in notes if n["state"] == "SENT"]
        return notes if len(done) == len(notes) >= len(expected) else None

    sent = await wait_for(all_sent, what="one notification per status change")
    assert [n["status"] for n in sent] == expected  # exactly one each, in order
    assert all(n["order_id"] == order_id for n in sent)


async def test_a_rejected_order_is_rejected_everywhere_refunded_and_never_delivered(world):
    order_id = await world.place_order()
    r = await world.owner.reject(order_id, "sold out")
    assert r.status_code == 200 and r.json()["status"] == "REJECTED"

    assert statuses(await world.status(order_id, "REJECTED")) == ["PLACED", "REJECTED"]
    await world.order_status(order_id, "REJECTED", payment="REFUNDED")
    assert (await world.ticket_status(order_id, "REJECTED"))["reason"] == "sold out"
    assert not await world.rider.is_offered(REGION, order_id)
    assert (await world.rider.pick(order_id)).status_code in (404, 409)
    assert await world.owner.stock(world.store, world.item) == STOCK


async def test_cancel_before_cooking_cancels_everywhere_with_no_delivery_and_no_stock(world):
    order_id = await world.place_order()
    assert (await world.owner.accept(order_id)).status_code == 200
    await world.order_status(order_id, "ACCEPTED")

    r = await world.customer.cancel(order_id)
    assert r.status_code == 200, r.text

    await world.status(order_id, "CANCELLED")
    await world.order_status(order_id, "CANCELLED", payment="REFUNDED")
    await world.ticket_status(order_id, "CANCELLED")
    # The kitchen cannot cook a cancelled ticket, so no delivery can ever open.
    r = await world.owner.start_cooking(order_id)
    assert r.status_code == 409 and r.json()["current_state"] == "CANCELLED"
    assert not await world.rider.is_offered(REGION, order_id)
    assert await world.owner.stock(world.store, world.item) == STOCK


async def test_cancel_after_cooking_started_is_refused_and_changes_nothing(world):
    order_id = await world.place_order()
    await world.cook(order_id)
    await world.order_status(order_id, "COOKING")

    r = await world.customer.cancel(order_id)

    assert r.status_code == 409
    assert r.json()["current_state"] == "COOKING"
    body = (await world.customer.order(order_id)).json()
    assert body["status"] == "COOKING" and body["payment"]["status"] == "CHARGED"
    assert (await world.ticket_status(order_id, "COOKING"))["status"] == "COOKING"
    assert await world.rider.is_offered(REGION, order_id)
    assert (await world.customer.status_page(order_id))["status"] == "COOKING"


async def assert_cancelled_everywhere(world, order_id: str) -> None:
    await world.status(order_id, "CANCELLED")
    await world.order_status(order_id, "CANCELLED", payment="REFUNDED")
    await world.ticket_status(order_id, "CANCELLED")

    async def delivery_closed():
        r = await world.rider.delivery(order_id)
        return r.status_code == 404 or r.json()["status"] == "CANCELLED"

    await wait_for(delivery_closed, what="no open delivery")
    assert not await world.rider.is_offered(REGION, order_id)
    assert (await world.rider.pick(order_id)).status_code in (404, 409)
    assert await world.owner.stock(world.store, world.item) == STOCK


async def test_cancel_crossing_cooking_cancel_first(world, system):
    """The customer's cancel lands before the kitchen hears of it: the owner starts
    cooking a ticket whose OrderCancelled is still on its way to the store."""
    order_id = await world.place_order()
    assert (await world.owner.accept(order_id)).status_code == 200
    await world.order_status(order_id, "ACCEPTED")
    system.stop_process("store-service-worker")  # OrderCancelled waits in Kafka
    try:
        assert (await world.customer.cancel(order_id)).status_code == 200
        assert (await world.owner.start_cooking(order_id)).status_code == 200  # CookStarted
    finally:
        system.start_worker("store-service")

    await assert_cancelled_everywhere(world, order_id)


async def test_cancel_crossing_cooking_cooking_first(world, system):
    """The kitchen starts cooking before the order-service hears of it, so the
    order-service still accepts the customer's cancel: cancellation must win."""
    order_id = await world.place_order()
    assert (await world.owner.accept(order_id)).status_code == 200
    await world.order_status(order_id, "ACCEPTED")
    system.stop_process("order-service-worker")  # CookStarted waits in Kafka
    try:
        assert (await world.owner.start_cooking(order_id)).status_code == 200
        await wait_for(
            lambda: world.rider.is_offered(REGION, order_id),
            what="the delivery opened by CookStarted",
        )
        assert (await world.customer.cancel(order_id)).status_code == 200
    finally:
        system.start_worker("order-service")

    await assert_cancelled_everywhere(world, order_id)


async def test_a_returned_delivery_is_returned_on_mypage_and_its_stock_restored(world):
    order_id = await world.place_order(quantity=3)
    await world.cook(order_id)
    assert (await world.rider.pick(order_id)).status_code == 200
    assert (await world.rider.confirm(order_id)).status_code == 200
    await world.stock(STOCK - 3)

    r = await world.rider.return_food(order_id, "customer refused")
    assert r.status_code == 200, r.text

    assert (await world.status(order_id, "RETURNED"))["status"] == "RETURNED"
    await world.stock(STOCK)


async def test_two_riders_race_for_one_delivery_and_only_the_winner_confirms(world):
    order_id = await world.place_order()
    await world.cook(order_id)

    first, second = await asyncio.gather(
        world.rider.pick(order_id), world.other_rider.pick(order_id)
    )

    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner, loser = (
        (world.rider, world.other_rider)
        if first.status_code == 200
        else (world.other_rider, world.rider)
    )
    assert (await loser.confirm(order_id)).status_code == 403
    assert (await winner.confirm(order_id)).status_code == 200
    await world.status(order_id, "DELIVERED")
