"""Ordering context: the Order aggregate and the value objects it is made of."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from service_kit.kernel import Aggregate, Forbidden, InvalidInput, NotFound, StateConflict
from shared_events import contract


class OrderStatus(StrEnum):
    """The board's Order states: PLACED -> ACCEPTED -> COOKING; PLACED -> REJECTED;
    PLACED | ACCEPTED -> CANCELLED. REJECTED and CANCELLED are final."""

    PLACED = "PLACED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    COOKING = "COOKING"
    CANCELLED = "CANCELLED"


CANCELLABLE = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED})

# The Order's state machine, read by the decisions below and by docs/board.md:
# what moves it -> (the states it moves from, the state it moves to).
TRANSITIONS: dict[str, tuple[frozenset[OrderStatus], OrderStatus]] = {
    "CancelOrder": (CANCELLABLE, OrderStatus.CANCELLED),
    "OrderAccepted": (frozenset({OrderStatus.PLACED}), OrderStatus.ACCEPTED),
    # From PLACED too: cooking implies acceptance.
    "CookStarted": (frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED}), OrderStatus.COOKING),
    "OrderRejected": (frozenset({OrderStatus.PLACED}), OrderStatus.REJECTED),
}


@dataclass(frozen=True)
class RefundDue:
    """Internal event (never published): the order's charge must be given back."""

    order_id: str
    reason: str  # "rejected" | "cancelled"


class OrderNotFound(NotFound, what="order"):
    """No order was placed with the id."""


class NotOrderOwner(Forbidden, refusal="order {key} belongs to another customer"):
    """Only the customer who placed an order cancels it."""


class OrderNotCancellable(
    StateConflict, refusal="order {key} can no longer be cancelled: {reason}"
):
    """Cancelling is refused once cooking started, or the order was rejected or
    cancelled already; the refusal says which."""

    def __init__(self, order_id: str, status: OrderStatus) -> None:
        reason = {
            OrderStatus.COOKING: "cooking has already started",
            OrderStatus.REJECTED: "the store rejected it",
            OrderStatus.CANCELLED: "it is already cancelled",
        }.get(status, f"it is {status}")
        super().__init__(order_id, status, reason=reason)


class ContradictoryStoreEvent(
    StateConflict, refusal="order {key} is {state}; {event_type} contradicts it"
):
    """A kitchen fact that the kitchen's own state machine cannot produce for this
    order (e.g. CookStarted after OrderRejected). Never applied: the consumer retries
    it and then parks it on the dead-letter topic for a human to look at."""


@dataclass(frozen=True)
class OrderLine:
    """One ordered menu item, priced by this service from its menu replica."""

    menu_item_id: str
    name: str
    unit_price: int  # won
    quantity: int

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class DeliveryAddress:
    # repr=False: personal data must not leak into logs or tracebacks.
    line: str = field(repr=False)
    region: str


_MOBILE = re.compile(r"^(010)-?(\d{4})-?(\d{4})$|^(01[16789])-?(\d{3,4})-?(\d{4})$")


def normalise_phone(raw: str) -> str:
    """A Korean mobile number, with or without dashes, in its dashed form
    (010-1234-5678). Raises ValueError for anything else."""
    found = _MOBILE.match(raw.strip())
    if found is None:
        raise ValueError("must be a Korean mobile number like 010-1234-5678")
    return "-".join(part for part in found.groups() if part is not None)


@dataclass(eq=False)
class Order(Aggregate):
    """A customer's order at one store, priced on the server and paid before it exists."""

    order_id: str
    customer_id: str
    store_id: str
    lines: tuple[OrderLine, ...]
    # Personal data: never in a repr, so never in a log or a traceback.
    delivery_address: DeliveryAddress = field(repr=False)
    phone: str = field(repr=False)
    placed_at: datetime
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    status: OrderStatus = OrderStatus.PLACED
    total_amount: int = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.total_amount = sum(line.line_total for line in self.lines)

    @classmethod
    def place(
        cls,
        order_id: str,
        customer_id: str,
        store_id: str,
        lines: Sequence[OrderLine],
        delivery_address: DeliveryAddress,
        phone: str,
        placed_at: datetime,
        *,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
    ) -> Order:
        """A new PLACED order; raises OrderPlaced with everything downstream needs."""
        _check_lines(lines)
        try:
            phone = normalise_phone(phone)
        except ValueError as exc:
            raise InvalidInput(f"phone {exc}", field="phone") from None
        order = cls(
            order_id,
            customer_id,
            store_id,
            tuple(lines),
            delivery_address,
            phone,
            placed_at,
            idempotency_key,
            request_fingerprint,
        )
        order.record(order._placed())
        return order

    def ensure_owned_by(self, customer_id: str) -> None:
        if customer_id != self.customer_id:
            raise NotOrderOwner(self.order_id)

    # ------------------------------------------------------------ the customer

    def cancel(self, customer_id: str) -> None:
        """CancelOrder: only the owner, only before cooking starts. Raises
        OrderCancelled (published) and RefundDue (internal)."""
        self.ensure_owned_by(customer_id)
        sources, target = TRANSITIONS["CancelOrder"]
        if self.status not in sources:
            raise OrderNotCancellable(self.order_id, self.status)
        self.status = target
        self.record(
            contract.OrderCancelled(
                order_id=self.order_id, customer_id=self.customer_id, store_id=self.store_id
            )
        )
        self.record(RefundDue(self.order_id, "cancelled"))

    # ------------------------------------------------------------ kitchen facts
    # Each returns False when the fact changes nothing: the order was cancelled
    # (cancellation wins) or is already at or past that point (never backwards).

    def accept(self) -> bool:
        return self._advance("OrderAccepted")

    def start_cooking(self) -> bool:
        # From PLACED too: cooking implies acceptance, so an OrderAccepted that
        # was parked on the dead-letter topic cannot leave the order cancellable.
        return self._advance("CookStarted")

    def reject(self) -> bool:
        if self.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
            return False
        sources, target = TRANSITIONS["OrderRejected"]
        if self.status not in sources:
            raise ContradictoryStoreEvent(self.order_id, self.status, event_type="OrderRejected")
        self.status = target
        self.record(RefundDue(self.order_id, "rejected"))
        return True

    def _advance(self, event_type: str) -> bool:
        if self.status is OrderStatus.CANCELLED:
            return False
        if self.status is OrderStatus.REJECTED:
            raise ContradictoryStoreEvent(self.order_id, self.status, event_type=event_type)
        sources, target = TRANSITIONS[event_type]
        if self.status not in sources:  # already at or past that point: never backwards
            return False
        self.status = target
        return True

    def refunds_due(self) -> list[RefundDue]:
        """The refunds this transaction's decisions raised, not yet committed: the
        payment record takes them in the same transaction."""
        return [event for event in getattr(self, "events", []) if isinstance(event, RefundDue)]

    # ------------------------------------------------------------ idempotency

    def is_replay_of(self, fingerprint: str) -> bool:
        """Whether a request with this order's idempotency key asked for the same thing."""
        return self.request_fingerprint == fingerprint

    def _placed(self) -> contract.OrderPlaced:
        return contract.OrderPlaced(
            order_id=self.order_id,
            customer_id=self.customer_id,
            store_id=self.store_id,
            items=[
                contract.OrderLine(
                    menu_item_id=line.menu_item_id,
                    name=line.name,
                    unit_price=line.unit_price,
                    quantity=line.quantity,
                    line_total=line.line_total,
                )
                for line in self.lines
            ],
            total_amount=self.total_amount,
            delivery_address=contract.DeliveryAddress(
                line=self.delivery_address.line, region=self.delivery_address.region
            ),
            phone=self.phone,
        )


def _check_lines(lines: Sequence[OrderLine]) -> None:
    if not lines:
        raise InvalidInput("an order needs at least one item", field="items")
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.quantity < 1:
            raise InvalidInput("quantity must be at least 1", field=f"items.{index}.quantity")
        if line.menu_item_id in seen:
            raise InvalidInput(
                f"menu item {line.menu_item_id} is listed twice; send one line per item",
                field=f"items.{index}.menu_item_id",
            )
        seen.add(line.menu_item_id)


class IdempotencyKeyReused(InvalidInput):
    """422, as the IETF Idempotency-Key draft advises for a key reused with another body."""

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key was already used for a different order request; "
            "send a new key for a new order",
            field="Idempotency-Key",
            location="header",
        )
