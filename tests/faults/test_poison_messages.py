"""Poison messages against the real services: each is parked on the dead-letter topic of
every consumer it fails at, with the error and its exact origin, and the valid message
right behind it on the same partition is still processed (Invariant 5).

Contract errors (not JSON, an unknown event type, a payload breaking its schema) park
at once at every consumer of the order topic; a well-formed event whose policy keeps
failing (OrderAccepted for an order the order-service does not know) is retried and
parked by that service only. Replaying it, still unfixed, parks it again, while the
consumer that had applied it finds it in its inbox (the dlq module says why).
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from fooddelivery_ops.dlq import DeadLetter, read_dead_letters, replay
from shared_events import encode, wrap
from shared_events.contract import DeliveryAddress, OrderAccepted, OrderLine, OrderPlaced
from shared_events.topics import ORDER_EVENTS, PARTITIONS, STORE_EVENTS
from testkit import read_topic
from testkit.actors import Customer, StoreOwner, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

ORDER_CONSUMERS = ("store-service", "delivery-service", "mypage-service")


class Shop:
    """A fresh store with one dish, its owner and a customer."""

    def __init__(self, http: httpx.AsyncClient, system) -> None:
        tag = uuid.uuid4().hex[:8]
        self.store, self.item = f"store-{tag}", f"item-{tag}"
        self.owner = StoreOwner(http, system.endpoints, f"owner-{tag}")
        self.customer = Customer(http, system.endpoints, f"customer-{tag}")

    async def open(self) -> Shop:
        assert (await self.owner.register_store(self.store, "Hansik House", "gangnam")).is_success
        r = await self.owner.set_menu_item(self.store, self.item, "Bibimbap", 9000, 10)
        assert r.status_code == 200, r.text
        return self

    async def place_order(self) -> str:
        async def priced():  # once MenuItemChanged reached the order-service's replica
            r = await self.customer.place_order(self.store, [(self.item, 1)])
            return r if r.status_code != 422 else None

        placed = await wait_for(priced, what="the order-service's menu replica")
        assert placed.status_code == 201, placed.text
        return placed.json()["order_id"]

    async def mypage_shows(self, order_id: str, status: str) -> None:
        async def shown():
            page = await self.customer.status_page(order_id)
            return page is not None and page["status"] == status

        await wait_for(shown, what=f"mypage to show {order_id} {status}")


@pytest.fixture
async def shop(http, system) -> Shop:
    return await Shop(http, system).open()


def envelope(**overrides) -> bytes:
    """A valid OrderPlaced envelope (for a store nobody owns), then `overrides` applied."""
    placed = OrderPlaced(
        order_id=str(uuid.uuid4()),
        customer_id="poison-customer",
        store_id="poison-store",
        items=[OrderLine(menu_item_id="m1", name="Dish", unit_price=1, quantity=1, line_total=1)],
        total_amount=1,
        delivery_address=DeliveryAddress(line="1 Poison-ro", region="nowhere"),
        phone="010-0000-0000",
    )
    data = json.loads(encode(wrap(placed, producer="order-service")))
    for name, value in overrides.items():
        target = data["payload"] if name in data["payload"] else data
        target[name] = value
    return json.dumps(data).encode()


POISON = {
    "malformed JSON": (lambda: b'{"event_type": "OrderPlaced", ', "InvalidEvent", "not JSON"),
    "unknown event type": (
        lambda: envelope(event_type="PizzaThrown"),
        "UnknownEventType",
        "'PizzaThrown'",
    ),
    "payload breaking its schema": (
        lambda: envelope(total_amount="lots"),
        "InvalidEvent",
        "total_amount",
    ),
}


async def parked(bootstrap: str, service: str, topic: str, partition: int, offset: int):
    """The letter `service` parked for that origin, once it is there."""

    async def found() -> DeadLetter | None:
        for letter in await read_dead_letters(bootstrap, [service]):
            if (letter.origin_topic, letter.origin_partition, letter.origin_offset) == (
                topic,
                partition,
                offset,
            ):
                return letter
        return None

    return await wait_for(found, what=f"{service} to park {topic}[{partition}]@{offset}")


async def test_contract_breaking_messages_are_parked_everywhere_and_orders_behind_them_go_on(
    kafka, shop
):
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        sent = {}
        for kind, (make, _, _) in POISON.items():
            # One on every partition: whichever the next order lands on, the poison is ahead.
            sent[kind] = [
                await producer.send_and_wait(
                    ORDER_EVENTS, make(), key=uuid.uuid4().hex.encode(), partition=p
                )
                for p in range(PARTITIONS)
            ]
            order_id = await shop.place_order()
            await shop.mypage_shows(order_id, "PLACED")
            await wait_for(
                lambda: shop.owner.ticket_arrived(shop.store, order_id),  # noqa: B023
                what=f"the ticket of the order behind the {kind}",
            )
    finally:
        await producer.stop()

    for kind, (_, error_type, error) in POISON.items():
        for meta in sent[kind]:
            for service in ORDER_CONSUMERS:
                letter = await parked(
                    kafka.bootstrap, service, ORDER_EVENTS, meta.partition, meta.offset
                )
                assert letter.header("dlq.error_type") == error_type, (kind, service)
                assert error in letter.header("dlq.error"), (kind, service)
                assert letter.header("dlq.attempts") == "1"  # never retried: it cannot pass


async def test_a_failing_policy_parks_after_retries_its_replay_parks_again_and_dedupes_elsewhere(
    kafka, system, shop
):
    order_id = await shop.place_order()
    await wait_for(lambda: shop.owner.ticket_arrived(shop.store, order_id), what="the ticket")
    # The poison goes ahead of this order's OrderAccepted, on the partition its key picks.
    partition = DefaultPartitioner()(order_id.encode(), list(range(PARTITIONS)), [])
    unknown = str(uuid.uuid4())
    poison = encode(
        wrap(OrderAccepted(order_id=unknown, store_id=shop.store), producer="store-service")
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            STORE_EVENTS, poison, key=unknown.encode(), partition=partition
        )
    finally:
        await producer.stop()
    assert (await shop.owner.accept(order_id)).status_code == 200

    async def accepted():
        return (await shop.customer.order(order_id)).json()["status"] == "ACCEPTED"

    await wait_for(accepted, what="the order-service to apply the OrderAccepted behind it")
    await shop.mypage_shows(order_id, "ACCEPTED")
    [behind] = await read_topic(
        kafka.bootstrap, [STORE_EVENTS], keys={order_id}, until=lambda r: len(r) >= 1
    )
    assert dict(behind.headers)["event_type"] == b"OrderAccepted"
    assert behind.partition == partition and behind.offset > meta.offset  # really behind it

    letter = await parked(kafka.bootstrap, "order-service", STORE_EVENTS, partition, meta.offset)
    assert letter.header("dlq.error_type") == "OrderNotFound"
    assert unknown in letter.header("dlq.error")
    assert letter.header("dlq.attempts") == "5"
    assert letter.event_type == "OrderAccepted" and letter.value == poison
    # mypage applied it (a row waiting for its OrderPlaced), so it parked nothing: it
    # showed the OrderAccepted behind the poison, and would have parked before that.
    assert not [
        x
        for x in await read_dead_letters(kafka.bootstrap, ["mypage-service"])
        if (x.origin_topic, x.origin_offset, x.origin_partition)
        == (STORE_EVENTS, meta.offset, partition)
    ]

    # Replayed without a fix: the order-service parks it again, under a new offset...
    [result] = await replay(kafka.bootstrap, [letter])
    assert result.sent is not None and result.sent.topic == STORE_EVENTS
    again = await parked(
        kafka.bootstrap, "order-service", STORE_EVENTS, result.sent.partition, result.sent.offset
    )
    assert (again.partition, again.offset) != (letter.partition, letter.offset)
    assert again.value == poison and again.header("dlq.error_type") == "OrderNotFound"
    # ...and mypage, which had applied it, finds its event id in the inbox.
    log = system.log_dir / "mypage-service-worker.log"
    outcome = f"OrderAccepted {STORE_EVENTS}[{result.sent.partition}]@{result.sent.offset} -> "

    async def mypage_outcome() -> str | None:
        # The worker logs JSON lines (service_kit.runtime.JsonFormatter).
        lines = [line for line in log.read_text().splitlines() if outcome in line]
        return json.loads(lines[-1])["message"].split(outcome, 1)[1] if lines else None

    assert await wait_for(mypage_outcome, what="mypage to consume the replay") == "duplicate"
