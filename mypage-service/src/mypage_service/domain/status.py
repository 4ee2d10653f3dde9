"""The customer-visible status of an order, and which event moves it where.

Events from different topics reach mypage in any order, so the visible status is
never "the last event seen" but the highest-precedence status among all events
applied. That makes the result independent of arrival order: a DeliveryConfirmed
that overtakes OrderPlaced leaves the order DELIVERED once both are in.
"""

from __future__ import annotations

from enum import StrEnum

from shared_events import contract


class Status(StrEnum):
    PLACED = "PLACED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    COOKING = "COOKING"
    COOKED = "COOKED"
    PICKED = "PICKED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


# Lowest first: the lifecycle in its normal order, then the terminal statuses.
# Terminal statuses outrank every other one, so nothing that arrives late can
# undo them; among them CANCELLED is last because cancellation wins everywhere
# when it crosses with cooking (docs/board.md, invariant 4).
PRECEDENCE: tuple[Status, ...] = (
    Status.PLACED,
    Status.ACCEPTED,
    Status.COOKING,
    Status.COOKED,
    Status.PICKED,
    Status.DELIVERED,
    Status.REJECTED,
    Status.RETURNED,
    Status.CANCELLED,
)
TERMINAL: frozenset[Status] = frozenset({Status.REJECTED, Status.RETURNED, Status.CANCELLED})

_RANK: dict[Status, int] = {status: i for i, status in enumerate(PRECEDENCE)}


def rank(status: str | None) -> int:
    """Higher wins; an order that has no status yet ranks below everything."""
    return -1 if status is None else _RANK[Status(status)]


# Which status each event of an order makes visible. The cancellations that
# follow OrderCancelled in the kitchen and in delivery say the same thing.
STATUS_BY_EVENT: dict[type[contract.Payload], Status] = {
    contract.OrderPlaced: Status.PLACED,
    contract.OrderAccepted: Status.ACCEPTED,
    contract.OrderRejected: Status.REJECTED,
    contract.CookStarted: Status.COOKING,
    contract.CookFinished: Status.COOKED,
    contract.FoodPicked: Status.PICKED,
    contract.DeliveryConfirmed: Status.DELIVERED,
    contract.DeliveryReturned: Status.RETURNED,
    contract.OrderCancelled: Status.CANCELLED,
    contract.CookingCancelled: Status.CANCELLED,
    contract.DeliveryCancelled: Status.CANCELLED,
}


# The events the projection takes: every one names its order.
OrderEvent = (
    contract.OrderPlaced
    | contract.OrderAccepted
    | contract.OrderRejected
    | contract.CookStarted
    | contract.CookFinished
    | contract.FoodPicked
    | contract.DeliveryConfirmed
    | contract.DeliveryReturned
    | contract.OrderCancelled
    | contract.CookingCancelled
    | contract.DeliveryCancelled
)


def status_for(event: contract.Payload) -> Status | None:
    """The status an event stands for; None for events that say nothing about one."""
    return STATUS_BY_EVENT.get(type(event))
