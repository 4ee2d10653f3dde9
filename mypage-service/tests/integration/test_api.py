"""The real app (lifespan, migrations, database) driven over HTTP; no broker needed."""

from collections.abc import AsyncIterator

import httpx
import pytest

from mypage_service.bootstrap import Container, bootstrap
from mypage_service.entrypoints.api import create_app
from shared_events import contract
from shared_events.envelope import Envelope
from testkit import tokens

from ..events import CUSTOMER, envelope, order_placed

ORDER = "7d0c2a4e-9f53-4c7e-9a8e-0f4f7f1b2c11"


@pytest.fixture
async def service(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("WORKER_HEALTH_URL", "http://127.0.0.1:1/health/ready")  # no worker
    monkeypatch.delenv("KAKAO_NOTIFY_URL", raising=False)  # the log notifier
    container = bootstrap()
    app = create_app(container, resource_server=tokens.resource_server())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        # Reads go as the orders' customer unless a test says who else (tokens needed).
        own = tokens.customer(CUSTOMER)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mypage", headers=own
        ) as client:
            yield container, client


async def place(
    container: Container, order_id: str = ORDER, *, customer: str = CUSTOMER, minutes: int = 0
) -> Envelope:
    placed = envelope(order_placed(order_id, customer), minutes)
    assert await container.bus.handle_event(placed, placed.event())
    return placed


async def test_an_order_appears_once_order_placed_is_applied(service):
    container, client = service
    assert (await client.get(f"/mypage/orders/{ORDER}")).status_code == 404

    placed = await place(container)

    response = await client.get(f"/mypage/orders/{ORDER}")
    assert response.status_code == 200
    assert response.json() == {
        "order_id": ORDER,
        "customer_id": CUSTOMER,
        "store_id": "s-1",
        "status": "PLACED",
        "total_amount": 18000,
        "items": [
            {
                "menu_item_id": "m1",
                "name": "Bibimbap",
                "unit_price": 9000,
                "quantity": 2,
                "line_total": 18000,
            }
        ],
        "rejected_by": None,
        "timeline": [
            {"status": "PLACED", "at": placed.occurred_at.isoformat(), "event_type": "OrderPlaced"}
        ],
    }


async def test_a_rejection_shows_who_rejected(service):
    container, client = service
    await place(container)
    rejected = envelope(
        contract.OrderRejected(
            order_id=ORDER, store_id="s-1", reason="not accepted in time", rejected_by="timeout"
        ),
        minutes=5,
    )
    assert await container.bus.handle_event(rejected, rejected.event())

    view = (await client.get(f"/mypage/orders/{ORDER}")).json()

    assert (view["status"], view["rejected_by"]) == ("REJECTED", "timeout")


async def test_a_redelivered_order_placed_is_applied_once(service):
    container, client = service
    placed = await place(container)

    assert await container.bus.handle_event(placed, placed.event()) is False

    assert len((await client.get(f"/mypage/orders/{ORDER}")).json()["timeline"]) == 1


async def test_a_customer_sees_only_their_own_orders(service):
    container, client = service
    await place(container)

    own = await client.get(f"/mypage/orders/{ORDER}", headers=tokens.customer(CUSTOMER))
    other = await client.get(f"/mypage/orders/{ORDER}", headers=tokens.customer("c-2"))
    others_list = await client.get(
        f"/mypage/customers/{CUSTOMER}/orders", headers=tokens.customer("c-2")
    )

    assert own.status_code == 200
    assert other.status_code == 403
    assert others_list.status_code == 403
    assert other.json() == {"detail": "a customer sees only their own orders"}


async def test_my_orders_are_listed_newest_first_a_page_at_a_time(service):
    container, client = service
    for n, minutes in enumerate([10, 30, 20]):
        await place(container, f"o-{n}", minutes=minutes)
    await place(container, "o-other", customer="c-2", minutes=40)

    url = f"/mypage/customers/{CUSTOMER}/orders"
    first = (await client.get(url, params={"limit": 2})).json()
    rest = (await client.get(url, params={"limit": 2, "offset": 2})).json()

    assert [o["order_id"] for o in first["orders"]] == ["o-1", "o-2"]
    assert [o["order_id"] for o in rest["orders"]] == ["o-0"]
    assert first["orders"][0]["status"] == "PLACED"
    assert (await client.get(url, params={"limit": 0})).status_code == 422


async def test_a_row_made_by_an_early_event_stays_hidden_until_order_placed(service):
    """The next issue's case, through the real mapping: DeliveryConfirmed first."""
    container, client = service
    delivered = envelope(contract.DeliveryConfirmed(order_id=ORDER, rider_id="r-1"), 50)
    assert await container.bus.handle_event(delivered, delivered.event())
    assert (await client.get(f"/mypage/orders/{ORDER}")).status_code == 404

    await place(container, minutes=0)

    body = (await client.get(f"/mypage/orders/{ORDER}")).json()
    assert body["status"] == "DELIVERED"
    assert [e["status"] for e in body["timeline"]] == ["PLACED", "DELIVERED"]


async def test_health(service):
    _, client = service
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 503  # no broker in this test
    assert ready.json()["checks"] == {"database": True, "broker": False, "consumer": False}
