import itertools
from dataclasses import replace

import pytest

from order_service.adapters.payment import DECLINED_TEST_CARD, FakeCardGateway
from order_service.domain import commands
from order_service.domain.menu import MenuItemUnavailable, RequestedItem, UnknownMenuItem
from order_service.domain.model import DeliveryAddress, IdempotencyKeyReused, OrderStatus
from order_service.domain.payment import PaymentStatus
from order_service.service_layer.handlers import Placed
from order_service.service_layer.messagebus import create_bus
from service_kit.kernel import PaymentDeclined
from shared_events.contract import MenuItemChanged, OrderPlaced
from shared_events.envelope import Envelope, wrap
from shared_events.topics import STORE_EVENTS

from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def gateway() -> FakeCardGateway:
    return FakeCardGateway()


@pytest.fixture
def bus(uow, gateway):
    return create_bus(uow.factory, gateway)


def menu_item_changed(
    item: str = "m1",
    *,
    store: str = "s1",
    name: str = "Bibimbap",
    price: int = 9000,
    stock: int = 50,
    available: bool = True,
    revision: int = 1,
) -> tuple[Envelope, MenuItemChanged]:
    event = MenuItemChanged(
        store_id=store,
        menu_item_id=item,
        name=name,
        price=price,
        stock=stock,
        available=available,
        revision=revision,
    )
    return wrap(event, producer="store-service"), event


async def stock_menu(bus, **item) -> None:
    await bus.handle_event(*menu_item_changed(**item))


def place_order(*items: tuple[str, int], **overrides) -> commands.PlaceOrder:
    cmd = commands.PlaceOrder(
        customer_id="c1",
        store_id="s1",
        items=tuple(RequestedItem(i, q) for i, q in items or [("m1", 2)]),
        delivery_address=DeliveryAddress("12 Teheran-ro", "gangnam"),
        phone="010-1234-5678",
        card_token="tok_ok",
    )
    return replace(cmd, **overrides)


def placed_events(uow: FakeUnitOfWork) -> list[OrderPlaced]:
    return [e.event() for e in uow.published if e.event_type == "OrderPlaced"]


# ---------------------------------------------------------------- menu replica


async def test_menu_item_changed_creates_the_replica(bus, uow):
    await stock_menu(bus, price=9000, stock=50)

    item = uow.menu.rows[("s1", "m1")]
    assert (item.name, item.price, item.stock, item.available, item.revision) == (
        "Bibimbap",
        9000,
        50,
        True,
        1,
    )


async def test_a_newer_revision_replaces_the_replica(bus, uow):
    await stock_menu(bus, price=9000, revision=1)
    await stock_menu(bus, price=9500, stock=0, available=False, revision=2)

    item = uow.menu.rows[("s1", "m1")]
    assert (item.price, item.stock, item.available, item.revision) == (9500, 0, False, 2)


async def test_an_older_revision_arriving_late_is_ignored(bus, uow):
    await stock_menu(bus, price=9500, revision=2)
    await stock_menu(bus, price=9000, revision=1)

    assert (uow.menu.rows[("s1", "m1")].price, uow.menu.rows[("s1", "m1")].revision) == (9500, 2)


async def test_a_redelivered_event_is_applied_once(bus, uow):
    envelope, event = menu_item_changed(price=9000, revision=1)

    assert await bus.handle_event(envelope, event) is True
    assert await bus.handle_event(envelope, event) is False
    assert uow.inbox.processed == {str(envelope.event_id)}


@pytest.mark.parametrize("arrival", list(itertools.permutations([1, 2, 3])))
async def test_any_arrival_order_converges_on_the_newest_revision(bus, uow, arrival):
    events = {rev: menu_item_changed(price=9000 + rev, revision=rev) for rev in (1, 2, 3)}
    for revision in arrival:
        await bus.handle_event(*events[revision])
        await bus.handle_event(*events[revision])  # and each one delivered twice

    assert (uow.menu.rows[("s1", "m1")].price, uow.menu.rows[("s1", "m1")].revision) == (9003, 3)


# ---------------------------------------------------------------- place order


async def test_placing_an_order_prices_it_from_the_replica_and_publishes_order_placed(
    bus, uow, gateway
):
    await stock_menu(bus, item="m1", name="Bibimbap", price=9000)
    await stock_menu(bus, item="m2", name="Barley tea", price=1500)

    placed = await bus.handle(place_order(("m1", 2), ("m2", 3)))

    assert placed.created
    order = uow.orders.rows[placed.order_id]
    assert order.status is OrderStatus.PLACED
    assert order.total_amount == 22500
    [envelope] = [e for e in uow.published if e.event_type == "OrderPlaced"]
    assert envelope.aggregate_id == placed.order_id
    assert envelope.producer == "order-service"
    event = envelope.event()
    assert event.model_dump() == {
        "order_id": placed.order_id,
        "customer_id": "c1",
        "store_id": "s1",
        "items": [
            {
                "menu_item_id": "m1",
                "name": "Bibimbap",
                "unit_price": 9000,
                "quantity": 2,
                "line_total": 18000,
            },
            {
                "menu_item_id": "m2",
                "name": "Barley tea",
                "unit_price": 1500,
                "quantity": 3,
                "line_total": 4500,
            },
        ],
        "total_amount": 22500,
        "delivery_address": {"line": "12 Teheran-ro", "region": "gangnam"},
        "phone": "010-1234-5678",
    }


async def test_the_card_is_charged_the_total_and_the_payment_recorded(bus, uow, gateway):
    await stock_menu(bus, price=9000)

    placed = await bus.handle(place_order(("m1", 2)))

    payment = uow.payments.rows[placed.order_id]
    assert (payment.amount, payment.status) == (18000, PaymentStatus.CHARGED)
    charge = gateway.charges[payment.reference]
    assert (charge.order_id, charge.amount, charge.refunded) == (placed.order_id, 18000, False)


async def test_the_newest_replica_price_is_charged(bus, uow):
    await stock_menu(bus, price=9000, revision=1)
    await stock_menu(bus, price=9900, revision=2)

    placed = await bus.handle(place_order(("m1", 1)))

    assert uow.orders.rows[placed.order_id].total_amount == 9900


@pytest.mark.parametrize(
    ("menu", "expected"),
    [
        ({}, UnknownMenuItem),
        ({"store": "other-store"}, UnknownMenuItem),
        ({"available": False, "stock": 0}, MenuItemUnavailable),
        ({"stock": 1}, MenuItemUnavailable),  # two are asked for
    ],
)
async def test_an_unknown_or_unavailable_item_is_refused_by_name(bus, uow, gateway, menu, expected):
    await stock_menu(bus, item="m1")
    if menu:
        await stock_menu(bus, item="m2", **menu)

    with pytest.raises(expected) as refused:
        await bus.handle(place_order(("m1", 1), ("m2", 2)))

    assert refused.value.field == "items.1.menu_item_id"
    assert "m2" in str(refused.value)
    assert uow.orders.rows == {}
    assert placed_events(uow) == []
    assert gateway.charges == {}


async def test_a_declined_card_leaves_nothing_stored_or_published(bus, uow, gateway):
    await stock_menu(bus)

    with pytest.raises(PaymentDeclined):
        await bus.handle(place_order(card_token=DECLINED_TEST_CARD))

    assert uow.orders.rows == {}
    assert uow.payments.rows == {}
    assert placed_events(uow) == []
    assert gateway.charges == {}


async def test_a_failed_commit_refunds_the_charge(bus, uow, gateway):
    await stock_menu(bus)
    uow.fail_next_commit = ConnectionResetError("database went away")

    with pytest.raises(ConnectionResetError):
        await bus.handle(place_order())

    assert uow.orders.rows == {}
    assert placed_events(uow) == []
    [charge] = gateway.charges.values()
    assert charge.refunded


async def test_a_commit_whose_reply_was_lost_keeps_the_order_and_the_charge(bus, uow, gateway):
    await stock_menu(bus)
    uow.lose_next_commit_reply = True

    placed = await bus.handle(place_order())

    assert placed.created
    assert placed.order_id in uow.orders.rows
    assert gateway.refunded == []


# ---------------------------------------------------------------- idempotency


async def test_the_same_idempotency_key_returns_the_same_order_and_publishes_once(
    bus, uow, gateway
):
    await stock_menu(bus)

    first = await bus.handle(place_order(idempotency_key="k1"))
    again = await bus.handle(place_order(idempotency_key="k1"))

    assert first == Placed(first.order_id, created=True)
    assert again == Placed(first.order_id, created=False)
    assert len(uow.orders.rows) == 1
    assert len(placed_events(uow)) == 1
    assert len(gateway.charges) == 1


async def test_a_key_reused_for_a_different_order_is_refused(bus, uow):
    await stock_menu(bus)
    await bus.handle(place_order(("m1", 1), idempotency_key="k1"))

    with pytest.raises(IdempotencyKeyReused):
        await bus.handle(place_order(("m1", 2), idempotency_key="k1"))
    assert len(uow.orders.rows) == 1


async def test_keys_belong_to_one_customer(bus, uow):
    await stock_menu(bus)

    mine = await bus.handle(place_order(idempotency_key="k1"))
    theirs = await bus.handle(place_order(idempotency_key="k1", customer_id="c2"))

    assert mine.order_id != theirs.order_id
    assert theirs.created


async def test_without_a_key_every_request_is_a_new_order(bus, uow):
    await stock_menu(bus)

    await bus.handle(place_order())
    await bus.handle(place_order())

    assert len(uow.orders.rows) == 2
    assert len(placed_events(uow)) == 2


class TwinWhileCharging(FakeCardGateway):
    """While this request's card is charged, a twin with the same key gets through
    first: the race two concurrent requests with one key can run."""

    def __init__(self) -> None:
        super().__init__()
        self.bus = None
        self.twin: commands.PlaceOrder | None = None

    async def charge(self, order_id: str, amount: int, card_token: str) -> str:
        reference = await super().charge(order_id, amount, card_token)
        twin, self.twin = self.twin, None
        if twin is not None:
            self.winner = await self.bus.handle(twin)
        return reference


async def test_the_loser_of_an_idempotency_race_returns_the_winners_order_and_is_refunded(uow):
    gateway = TwinWhileCharging()
    bus = gateway.bus = create_bus(uow.factory, gateway)
    await stock_menu(bus)
    gateway.twin = place_order(idempotency_key="k1")

    loser = await bus.handle(place_order(idempotency_key="k1"))

    assert loser == Placed(gateway.winner.order_id, created=False)
    assert list(uow.orders.rows) == [gateway.winner.order_id]
    assert len(placed_events(uow)) == 1
    assert len(gateway.charges) == 2
    assert len(gateway.refunded) == 1
    assert gateway.charges[gateway.refunded[0]].order_id != gateway.winner.order_id


def test_the_worker_subscribes_to_store_events_only(bus):
    """Derived from the policies: the menu replica and the kitchen's decisions."""
    assert bus.subscribed_topics() == [STORE_EVENTS]
    assert {model.event_type for model in bus.handled_event_types()} == {
        "MenuItemChanged",
        "OrderAccepted",
        "OrderRejected",
        "CookStarted",
    }
