"""CancelOrder over HTTP, the kitchen policies through the bus, and refunds by the
dispatcher running in the app's lifespan, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from order_service.bootstrap import bootstrap
from order_service.service_layer.messagebus import create_bus
from order_service.service_layer.unit_of_work import PRODUCER, SqlAlchemyUnitOfWork
from service_kit.claims import Pacing
from service_kit.kernel import ConcurrentChange
from shared_events.contract import CookStarted, OrderAccepted, OrderRejected
from shared_events.envelope import decode
from testkit import tokens

from .support import CUSTOMER, RendezvousGateway, Service, eventually, serving

OTHER_CUSTOMER = tokens.customer("c2")


async def refunded(service: Service, order_id: str) -> None:
    async def check() -> bool:
        return (await service.get(order_id))["payment"]["status"] == "REFUNDED"

    await eventually(check)


def cancellations(rows: list[Any]) -> list[Any]:
    return [row for row in rows if row.event_type == "OrderCancelled"]


async def test_cancelling_a_placed_order_answers_200_and_writes_order_cancelled(service):
    placed = await service.place()
    order_id = placed["order_id"]

    response = await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)

    assert response.status_code == 200, response.text
    cancelled = response.json()
    payment = cancelled.pop("payment")
    assert payment["amount"] == 18000
    # Written with the cancellation; the dispatcher may already have refunded it.
    assert payment["status"] in {"REFUND_PENDING", "REFUNDED"}
    del placed["payment"]
    assert cancelled == {**placed, "status": "CANCELLED"}
    [row] = cancellations(await service.outbox())
    assert (row.message_key, row.topic) == (order_id, "fooddelivery.order.events")
    envelope, event = decode(row.message)
    assert envelope.producer == "order-service"
    assert event.model_dump() == {"order_id": order_id, "customer_id": "c1", "store_id": "s1"}
    await refunded(service, order_id)
    assert service.gateway.refund_calls == [order_id]


async def test_the_cancel_response_is_the_order_as_get_shows_it(service):
    order_id = (await service.place())["order_id"]

    response = await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)
    await refunded(service, order_id)

    shown = await service.get(order_id)
    assert shown["payment"] == {"status": "REFUNDED", "amount": 18000}
    assert response.json() | {"payment": shown["payment"]} == shown


async def test_cancelling_an_accepted_order_is_allowed(service):
    order_id = (await service.place())["order_id"]
    await service.kitchen(OrderAccepted(order_id=order_id, store_id="s1"))
    assert (await service.get(order_id))["status"] == "ACCEPTED"

    response = await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "CANCELLED"


async def test_cancelling_once_cooking_started_is_409_and_publishes_nothing(service):
    order_id = (await service.place())["order_id"]
    await service.kitchen(OrderAccepted(order_id=order_id, store_id="s1"))
    await service.kitchen(CookStarted(order_id=order_id, store_id="s1"))
    outbox_before = await service.outbox()

    response = await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)

    assert response.status_code == 409, response.text
    assert response.json()["current_state"] == "COOKING"
    assert "cooking has already started" in response.json()["detail"]
    assert await service.outbox() == outbox_before
    shown = await service.get(order_id)
    assert (shown["status"], shown["payment"]["status"]) == ("COOKING", "CHARGED")


async def test_a_second_cancel_is_409_naming_cancelled(service):
    order_id = (await service.place())["order_id"]
    await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)

    response = await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)

    assert response.status_code == 409
    assert response.json()["current_state"] == "CANCELLED"
    assert len(cancellations(await service.outbox())) == 1


async def test_another_customer_may_not_cancel(service):
    order_id = (await service.place())["order_id"]

    response = await service.http.delete(f"/orders/{order_id}", headers=OTHER_CUSTOMER)

    assert response.status_code == 403
    assert "another customer" in response.json()["detail"]
    assert (await service.get(order_id))["status"] == "PLACED"
    assert cancellations(await service.outbox()) == []


async def test_cancelling_an_unknown_order_is_404(service):
    response = await service.http.delete(f"/orders/{uuid.uuid4()}", headers=CUSTOMER)

    assert response.status_code == 404


async def test_a_rejected_order_is_refunded_by_the_dispatcher(service):
    order_id = (await service.place())["order_id"]

    await service.kitchen(OrderRejected(order_id=order_id, store_id="s1", reason="sold out"))

    assert (await service.get(order_id))["status"] == "REJECTED"
    await refunded(service, order_id)
    assert service.gateway.refund_calls == [order_id]
    assert [row.event_type for row in await service.outbox()] == ["OrderPlaced"]


async def test_a_rejection_applied_by_the_worker_process_is_found_by_polling(service):
    # The worker's bus: same database, but no in-process dispatcher to wake.
    platform = service.container.platform
    worker_bus = create_bus(platform.unit_of_work(SqlAlchemyUnitOfWork, PRODUCER), service.gateway)
    order_id = (await service.place())["order_id"]

    await service.kitchen(
        OrderRejected(order_id=order_id, store_id="s1", reason="closed"), bus=worker_bus
    )

    await refunded(service, order_id)
    assert service.gateway.refund_calls == [order_id]


async def test_a_rejection_the_worker_applies_wakes_the_dispatcher_without_its_poll(
    monkeypatch: pytest.MonkeyPatch, database_url: str, unused_udp_port: int
):
    """The dispatcher's poll is an hour away here: only the wake of the worker's commit
    (another container on the same database, reaching the API's through
    service_kit.wake) explains a refund within the test's wait."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HTTP_PORT", str(unused_udp_port))  # where the worker's datagrams go
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    gateway = RendezvousGateway()
    api = bootstrap(gateway=gateway, refund_pacing=Pacing(poll_interval=3600.0))
    async with serving(api, gateway) as service:
        worker = bootstrap(gateway=gateway)
        try:
            order_id = (await service.place())["order_id"]
            rejected = OrderRejected(order_id=order_id, store_id="s1", reason="closed")
            assert await service.kitchen(rejected, bus=worker.bus)

            await refunded(service, order_id)
            assert gateway.refund_calls == [order_id]
        finally:
            await worker.platform.dispose()


async def test_a_store_event_after_the_cancel_leaves_the_order_cancelled(service):
    order_id = (await service.place())["order_id"]
    await service.http.delete(f"/orders/{order_id}", headers=CUSTOMER)
    outbox_before = await service.outbox()

    assert await service.kitchen(OrderAccepted(order_id=order_id, store_id="s1"))
    assert await service.kitchen(OrderRejected(order_id=order_id, store_id="s1", reason="late"))

    assert (await service.get(order_id))["status"] == "CANCELLED"
    assert await service.outbox() == outbox_before
    await refunded(service, order_id)
    assert service.gateway.refund_calls == [order_id]


async def test_a_cancel_crossing_a_rejection_refunds_once(service):
    order_id = (await service.place())["order_id"]

    async def reject() -> None:
        event = OrderRejected(order_id=order_id, store_id="s1", reason="sold out")
        for _ in range(5):  # the consumer retries a policy that lost a version race
            try:
                await service.kitchen(event)
                return
            except ConcurrentChange:
                continue

    cancel, _ = await asyncio.gather(
        service.http.delete(f"/orders/{order_id}", headers=CUSTOMER), reject()
    )

    shown = await service.get(order_id)
    if cancel.status_code == 200:
        assert shown["status"] == "CANCELLED"
        assert len(cancellations(await service.outbox())) == 1
    else:
        assert (cancel.status_code, cancel.json()["current_state"]) == (409, "REJECTED")
        assert shown["status"] == "REJECTED"
        assert cancellations(await service.outbox()) == []
    await refunded(service, order_id)
    assert service.gateway.refund_calls == [order_id]
