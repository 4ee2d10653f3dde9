"""Delivery context: the Delivery aggregate, one per order.

The record is created by whichever of the order's events arrives first and
collects facts (address known, cooking started, order cancelled); its status is
derived from those facts, so every arrival order of the same events ends in the
same state. Riders then move it on: WAITING -> PICKED -> DELIVERED, and
PICKED | DELIVERED -> RETURNED.

Amendment to the board's state machine: cancellation wins everywhere, so a
PICKED delivery whose order was cancelled meanwhile becomes CANCELLED too
(WAITING | PICKED -> CANCELLED); DELIVERED and RETURNED stay as they are.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from datetime import datetime
from enum import StrEnum

from service_kit.kernel import Aggregate, Forbidden, InvalidInput, NotFound, StateConflict
from shared_events import contract


class DeliveryStatus(StrEnum):
    # Internal: the order is known but not offered yet (address or cook start
    # still missing). The API never shows a PENDING delivery.
    PENDING = "PENDING"
    WAITING = "WAITING"
    PICKED = "PICKED"
    DELIVERED = "DELIVERED"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"


# What a cancellation still stops: the food has not reached the customer.
CANCELLABLE = frozenset({DeliveryStatus.PENDING, DeliveryStatus.WAITING, DeliveryStatus.PICKED})
RETURNABLE = frozenset({DeliveryStatus.PICKED, DeliveryStatus.DELIVERED})

# The Delivery's state machine, read by the decisions below and by docs/board.md:
# what moves it -> (the states it moves from, the state it moves to).
TRANSITIONS: dict[str, tuple[frozenset[DeliveryStatus], DeliveryStatus]] = {
    "OrderPlaced and CookStarted": (frozenset({DeliveryStatus.PENDING}), DeliveryStatus.WAITING),
    "OrderCancelled": (CANCELLABLE, DeliveryStatus.CANCELLED),
    "pick": (frozenset({DeliveryStatus.WAITING}), DeliveryStatus.PICKED),
    "confirm": (frozenset({DeliveryStatus.PICKED}), DeliveryStatus.DELIVERED),
    "return": (RETURNABLE, DeliveryStatus.RETURNED),
}
REASON_MAX = 200


class DeliveryNotFound(NotFound, what="delivery"):
    """No delivery is offered for the order (yet)."""


class NotYourDelivery(Forbidden, refusal="delivery {key} was picked by another rider"):
    """Only the rider who picked a delivery confirms or returns it."""


class WrongState(StateConflict, refusal="delivery {key} is {state}, not {wanted}"):
    """The delivery's state machine refuses the rider's command."""


@dataclass(eq=False)
class Delivery(Aggregate):
    """One order's delivery, made by whichever of its events arrives first; what
    the other events tell is unknown (None) until they come."""

    order_id: str
    first_seen_at: InitVar[datetime]
    status: DeliveryStatus = DeliveryStatus.PENDING
    store_id: str | None = None
    customer_id: str | None = None
    region: str | None = None
    address_line: str | None = field(default=None, repr=False)  # personal data: never logged
    rider_id: str | None = None
    return_reason: str | None = None
    # Facts, each the earliest occurred_at of the event that told it.
    placed_at: datetime | None = None
    cook_started_at: datetime | None = None
    cancelled_at: datetime | None = None
    # When the address was known and cooking had started (event time, so it
    # does not depend on arrival order): offers are listed oldest first by it.
    ready_at: datetime | None = None
    picked_at: datetime | None = None
    delivered_at: datetime | None = None
    returned_at: datetime | None = None
    updated_at: datetime = field(init=False)

    def __post_init__(self, first_seen_at: datetime) -> None:
        super().__post_init__()
        self.updated_at = first_seen_at

    @property
    def is_offered(self) -> bool:
        """Whether the API shows it: anything past PENDING."""
        return self.status != DeliveryStatus.PENDING

    # ------------------------------------------------------------ facts (policies)

    def learn_placement(
        self, store_id: str, customer_id: str, address_line: str, region: str, at: datetime
    ) -> None:
        """OrderPlaced: keep the local copy of the address and the region."""
        if self.address_line is None:
            self.address_line, self.region = address_line, region
        self.store_id = self.store_id or store_id
        self.customer_id = self.customer_id or customer_id
        self.placed_at = _earliest(self.placed_at, at)
        self._settle(at)

    def learn_cook_started(self, store_id: str, at: datetime) -> None:
        """CookStarted: riders may come once the address is known too."""
        self.store_id = self.store_id or store_id
        self.cook_started_at = _earliest(self.cook_started_at, at)
        self._settle(at)

    def learn_cancelled(self, store_id: str, customer_id: str, at: datetime) -> None:
        """OrderCancelled: cancel the delivery, or never open it."""
        self.store_id = self.store_id or store_id
        self.customer_id = self.customer_id or customer_id
        self.cancelled_at = _earliest(self.cancelled_at, at)
        self._settle(at)

    def _settle(self, at: datetime) -> None:
        """Derive the status from the facts; cancellation wins over everything
        that has not reached the customer yet."""
        if self.placed_at is not None and self.cook_started_at is not None:
            self.ready_at = max(self.placed_at, self.cook_started_at)
        cancellable, cancelled = TRANSITIONS["OrderCancelled"]
        offerable, offered = TRANSITIONS["OrderPlaced and CookStarted"]
        if self.cancelled_at is not None and self.status in cancellable:
            self.status = cancelled
            self.record(contract.DeliveryCancelled(order_id=self.order_id))
        elif self.status in offerable and self.ready_at is not None:
            self.status = offered
        self._touch(at)

    # ------------------------------------------------------------ rider commands

    def pick(self, rider_id: str, now: datetime) -> None:
        sources, target = TRANSITIONS["pick"]
        if self.status not in sources:
            raise WrongState(self.order_id, self.status, wanted=DeliveryStatus.WAITING)
        self.status = target
        self.rider_id = rider_id
        self.picked_at = now
        self._touch(now)
        self.record(contract.FoodPicked(order_id=self.order_id, rider_id=rider_id))

    def confirm(self, rider_id: str, now: datetime) -> None:
        self._ensure_picked_by(rider_id)
        sources, target = TRANSITIONS["confirm"]
        if self.status not in sources:
            raise WrongState(self.order_id, self.status, wanted=DeliveryStatus.PICKED)
        self.status = target
        self.delivered_at = now
        self._touch(now)
        self.record(contract.DeliveryConfirmed(order_id=self.order_id, rider_id=rider_id))

    def return_food(self, rider_id: str, reason: str, now: datetime) -> None:
        reason = reason.strip()
        if not reason or len(reason) > REASON_MAX:
            raise InvalidInput(f"reason must be 1 to {REASON_MAX} characters", field="reason")
        self._ensure_picked_by(rider_id)
        sources, target = TRANSITIONS["return"]
        if self.status not in sources:
            raise WrongState(self.order_id, self.status, wanted="PICKED or DELIVERED")
        self.status = target
        self.return_reason = reason
        self.returned_at = now
        self._touch(now)
        self.record(
            contract.DeliveryReturned(order_id=self.order_id, rider_id=rider_id, reason=reason)
        )

    def _ensure_picked_by(self, rider_id: str) -> None:
        # Only once someone picked it is there an owner to compare with; before
        # that the state check answers (409 WAITING).
        if self.rider_id is not None and rider_id != self.rider_id:
            raise NotYourDelivery(self.order_id)

    def _touch(self, at: datetime) -> None:
        # The newest moment anything happened, whatever the arrival order.
        self.updated_at = max(self.updated_at, at)


def _earliest(known: datetime | None, at: datetime) -> datetime:
    return at if known is None else min(known, at)
