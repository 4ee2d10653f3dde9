from datetime import UTC, datetime

import pytest

from order_service.domain.menu import (
    MenuItemReplica,
    MenuItemUnavailable,
    RequestedItem,
    UnknownMenuItem,
    price_items,
)
from order_service.domain.model import (
    ContradictoryStoreEvent,
    DeliveryAddress,
    NotOrderOwner,
    Order,
    OrderLine,
    OrderNotCancellable,
    OrderStatus,
    RefundDue,
    normalise_phone,
)
from service_kit.kernel import Forbidden, InvalidInput
from shared_events.contract import MenuItemChanged, OrderCancelled, OrderPlaced

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADDRESS = DeliveryAddress("12 Teheran-ro", "gangnam")


def place(lines: list[OrderLine], phone: str = "010-1234-5678") -> Order:
    return Order.place("o1", "c1", "s1", lines, ADDRESS, phone, NOW)


def replica(item: str = "m1", *, price: int = 9000, stock: int = 5, available: bool = True):
    return MenuItemReplica("s1", item, f"dish {item}", price, stock, available, revision=1)


def changed(revision: int, *, price: int = 9000) -> MenuItemChanged:
    return MenuItemChanged(
        store_id="s1",
        menu_item_id="m1",
        name="Bibimbap",
        price=price,
        stock=3,
        available=True,
        revision=revision,
    )


def test_placing_an_order_totals_its_lines_and_records_order_placed():
    order = place([OrderLine("m1", "Bibimbap", 9000, 2), OrderLine("m2", "Tea", 1500, 3)])

    assert order.status is OrderStatus.PLACED
    assert order.total_amount == 9000 * 2 + 1500 * 3
    [event] = order.pull_events()
    assert isinstance(event, OrderPlaced)
    assert event.total_amount == 22500
    assert [(i.menu_item_id, i.unit_price, i.quantity, i.line_total) for i in event.items] == [
        ("m1", 9000, 2, 18000),
        ("m2", 1500, 3, 4500),
    ]
    assert event.delivery_address.region == "gangnam"
    assert event.phone == "010-1234-5678"


def test_an_order_needs_at_least_one_line():
    with pytest.raises(InvalidInput) as refused:
        place([])
    assert refused.value.field == "items"


def test_an_item_may_appear_on_only_one_line():
    with pytest.raises(InvalidInput) as refused:
        place([OrderLine("m1", "Bibimbap", 9000, 1), OrderLine("m1", "Bibimbap", 9000, 1)])
    assert refused.value.field == "items.1.menu_item_id"


def test_the_order_refuses_a_phone_that_is_not_a_korean_mobile():
    with pytest.raises(InvalidInput) as refused:
        place([OrderLine("m1", "Bibimbap", 9000, 1)], phone="02-123-4567")
    assert refused.value.field == "phone"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("010-1234-5678", "010-1234-5678"),
        ("01012345678", "010-1234-5678"),
        (" 010-1234-5678 ", "010-1234-5678"),
        ("011-123-4567", "011-123-4567"),
        ("0161234567", "016-123-4567"),
    ],
)
def test_mobile_numbers_are_normalised_to_the_dashed_form(raw, normal):
    assert normalise_phone(raw) == normal


@pytest.mark.parametrize(
    "raw", ["", "02-1234-5678", "010-123-4567", "010-1234-567", "010 1234 5678", "+821012345678"]
)
def test_anything_else_is_not_a_mobile_number(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_an_order_never_shows_the_phone_or_address_in_its_repr():
    order = place([OrderLine("m1", "Bibimbap", 9000, 1)])

    text = repr(order) + repr(order.delivery_address)
    assert "010-1234-5678" not in text
    assert "Teheran" not in text


def test_only_the_customer_owns_the_order():
    order = place([OrderLine("m1", "Bibimbap", 9000, 1)])

    order.ensure_owned_by("c1")
    with pytest.raises(Forbidden):
        order.ensure_owned_by("c2")


# ---------------------------------------------------------------- state machine

PLACED, ACCEPTED, COOKING = OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.COOKING
REJECTED, CANCELLED = OrderStatus.REJECTED, OrderStatus.CANCELLED


def order_in(status: OrderStatus) -> Order:
    """An order brought to `status` through the aggregate's own transitions."""
    order = place([OrderLine("m1", "Bibimbap", 9000, 1)])
    steps = {
        PLACED: [],
        ACCEPTED: [order.accept],
        COOKING: [order.accept, order.start_cooking],
        REJECTED: [order.reject],
        CANCELLED: [lambda: order.cancel("c1")],
    }[status]
    for step in steps:
        step()
    assert order.status is status
    order.pull_events()
    return order


@pytest.mark.parametrize("status", [PLACED, ACCEPTED])
def test_the_customer_cancels_before_cooking_starts(status):
    order = order_in(status)

    order.cancel("c1")

    assert order.status is CANCELLED
    assert order.pull_events() == [
        OrderCancelled(order_id="o1", customer_id="c1", store_id="s1"),
        RefundDue("o1", "cancelled"),
    ]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (COOKING, "cooking has already started"),
        (REJECTED, "the store rejected it"),
        (CANCELLED, "already cancelled"),
    ],
)
def test_too_late_to_cancel_is_a_conflict_naming_the_status(status, reason):
    order = order_in(status)

    with pytest.raises(OrderNotCancellable, match=reason) as refused:
        order.cancel("c1")

    assert refused.value.current_state == status.value
    assert order.status is status
    assert order.pull_events() == []


@pytest.mark.parametrize("status", list(OrderStatus))
def test_only_the_owner_may_cancel_whatever_the_status(status):
    order = order_in(status)

    with pytest.raises(NotOrderOwner):
        order.cancel("c2")
    assert order.status is status
    assert order.pull_events() == []


# Every kitchen fact in every status: the status it leaves, and whether it changed
# anything. "contradiction" is a fact the kitchen's own state machine cannot produce.
KITCHEN_FACTS = [
    ("accept", PLACED, ACCEPTED, True),
    ("accept", ACCEPTED, ACCEPTED, False),  # a repeat
    ("accept", COOKING, COOKING, False),  # never backwards
    ("accept", CANCELLED, CANCELLED, False),  # cancellation wins
    ("accept", REJECTED, "contradiction", None),
    ("start_cooking", PLACED, COOKING, True),  # cooking implies acceptance
    ("start_cooking", ACCEPTED, COOKING, True),
    ("start_cooking", COOKING, COOKING, False),
    ("start_cooking", CANCELLED, CANCELLED, False),
    ("start_cooking", REJECTED, "contradiction", None),
    ("reject", PLACED, REJECTED, True),
    ("reject", REJECTED, REJECTED, False),
    ("reject", CANCELLED, CANCELLED, False),
    ("reject", ACCEPTED, "contradiction", None),
    ("reject", COOKING, "contradiction", None),
]


@pytest.mark.parametrize(("fact", "status", "after", "changed"), KITCHEN_FACTS)
def test_kitchen_facts_move_the_status_only_forward(fact, status, after, changed):
    order = order_in(status)

    if after == "contradiction":
        with pytest.raises(ContradictoryStoreEvent) as refused:
            getattr(order, fact)()
        assert refused.value.current_state == status.value
        assert order.status is status
    else:
        assert getattr(order, fact)() is changed
        assert order.status is after
    if fact != "reject" or not changed:
        assert order.pull_events() == []  # nothing published, nothing refunded


def test_a_rejection_makes_the_refund_due_and_publishes_nothing():
    order = order_in(PLACED)

    order.reject()

    assert order.refunds_due() == [RefundDue("o1", "rejected")]
    assert order.pull_events() == [RefundDue("o1", "rejected")]
    assert order.refunds_due() == []  # once pulled (committed), no longer pending


def test_the_replica_takes_only_newer_revisions():
    item = MenuItemReplica.from_event(changed(2, price=9500))

    assert not item.apply(changed(1, price=8000))
    assert not item.apply(changed(2, price=8000))
    assert item.apply(changed(3, price=10000))
    assert (item.price, item.revision) == (10000, 3)


def test_pricing_uses_the_replica_price_and_the_requested_quantity():
    lines = price_items("s1", [RequestedItem("m1", 2)], {"m1": replica(price=7000)})

    assert lines == [OrderLine("m1", "dish m1", 7000, 2)]


def test_pricing_names_the_unknown_item():
    with pytest.raises(UnknownMenuItem) as refused:
        price_items("s1", [RequestedItem("m1", 1), RequestedItem("zz", 1)], {"m1": replica()})
    assert refused.value.field == "items.1.menu_item_id"
    assert "zz" in str(refused.value)


@pytest.mark.parametrize(
    ("item", "quantity", "reason"),
    [
        (replica(available=False), 1, "not available"),
        (replica(stock=2), 3, "only 2 left"),
    ],
)
def test_pricing_refuses_an_unavailable_item(item, quantity, reason):
    with pytest.raises(MenuItemUnavailable, match=reason):
        price_items("s1", [RequestedItem("m1", quantity)], {"m1": item})
