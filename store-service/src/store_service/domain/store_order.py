"""Kitchen context: the StoreOrder, the kitchen ticket of one order at one store.

RECEIVED -> ACCEPTED | REJECTED (by the owner, or by the acceptance window);
ACCEPTED -> COOKING -> COOKED;
RECEIVED | ACCEPTED | COOKING | COOKED -> CANCELLED (cancellation wins, even over a
kitchen that finished before the cancel arrived; a REJECTED ticket stays REJECTED).

Events of one order reach the kitchen on two topics (order events, delivery events)
that interleave freely, so any of them may be the first to arrive: the ticket then
exists as a placeholder that learns its store and items when OrderPlaced comes. The
owner never sees a placeholder. Delivery facts are kept as flags, and whether the
order holds stock is derived from them (see `holds_stock`), so every arrival order
ends in the same state.

Time enters the domain through the acceptance window: a placed ticket stores its
deadline (`accept_by`), so a later change of the window never moves it. When the
deadline has passed and the ticket is still RECEIVED, `time_out` rejects it by the
same state rule as the owner's decision; whichever of the two commits first wins
and the other finds the ticket no longer RECEIVED.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from service_kit.kernel import Aggregate, InvalidInput, NotFound, StateConflict
from shared_events import contract


class TicketStatus(StrEnum):
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    COOKING = "COOKING"
    COOKED = "COOKED"
    CANCELLED = "CANCELLED"


class StoreOrderNotFound(NotFound, what="store order"):
    """No ticket the owner can see: unknown, or its OrderPlaced has not arrived."""


class WrongTicketState(StateConflict, refusal="cannot {action} store order {key}: it is {state}"):
    """The ticket's state machine refuses the owner's decision."""


MAX_REASON = 200
TIMEOUT_REASON = "not accepted in time"


@dataclass(frozen=True)
class AcceptanceDeadlineSet:
    """Internal (never published): a ticket now waits for its owner until `accept_by`,
    so an in-process acceptance timer can re-plan its sleep."""

    order_id: str
    accept_by: datetime


def clean_reason(reason: str | None) -> str:
    """A rejection must say why, so the customer is told something true."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("a reason is required when rejecting an order", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason is longer than {MAX_REASON} characters", field="reason")
    return text


@dataclass(frozen=True)
class TicketLine:
    """What the kitchen cooks: no prices, and nothing personal about the customer."""

    menu_item_id: str
    name: str
    quantity: int


# The decisions on a placed ticket: the state each needs and the state it leads to.
# The acceptance window's "time out" needs the same state as the owner's decision.
_ACTIONS: dict[str, tuple[TicketStatus, TicketStatus]] = {
    "accept": (TicketStatus.RECEIVED, TicketStatus.ACCEPTED),
    "reject": (TicketStatus.RECEIVED, TicketStatus.REJECTED),
    "time out": (TicketStatus.RECEIVED, TicketStatus.REJECTED),
    "start cooking": (TicketStatus.ACCEPTED, TicketStatus.COOKING),
    "finish cooking": (TicketStatus.COOKING, TicketStatus.COOKED),
}
# Cancellation wins over every state but REJECTED (already over, nothing to stop).
CANCELLABLE = frozenset(
    {TicketStatus.RECEIVED, TicketStatus.ACCEPTED, TicketStatus.COOKING, TicketStatus.COOKED}
)

# The ticket's state machine, read by the decisions below and by docs/board.md:
# what moves it -> (the states it moves from, the state it moves to).
TRANSITIONS: dict[str, tuple[frozenset[TicketStatus], TicketStatus]] = {
    **{action: (frozenset({needs}), target) for action, (needs, target) in _ACTIONS.items()},
    "OrderCancelled": (CANCELLABLE, TicketStatus.CANCELLED),
}


@dataclass(eq=False)
class StoreOrder(Aggregate):
    """The kitchen ticket, keyed by the order id."""

    order_id: str
    # The newest moment anything happened to it: first, that of the event that made it.
    updated_at: datetime
    status: TicketStatus = TicketStatus.RECEIVED
    # Unknown until OrderPlaced arrives (a placeholder made by another event).
    store_id: str | None = None
    customer_id: str | None = None
    items: tuple[TicketLine, ...] | None = None
    total_amount: int | None = None
    placed_at: datetime | None = None
    # The end of the acceptance window, set once when the ticket is placed RECEIVED.
    accept_by: datetime | None = None
    reason: str | None = None
    # Delivery facts, in whatever order they came.
    delivered: bool = False
    returned: bool = False
    # Stock this order took off the menu, per item, exactly once.
    stock_taken: bool = False
    taken: dict[str, int] = field(default_factory=dict)

    @property
    def is_placed(self) -> bool:
        """Whether OrderPlaced has arrived: only then does the owner see the ticket."""
        return self.placed_at is not None

    # ---------------------------------------------------------------- policies

    def place(
        self,
        store_id: str,
        customer_id: str,
        lines: Iterable[TicketLine],
        total_amount: int,
        at: datetime,
        acceptance_window: timedelta,
    ) -> bool:
        """OrderPlaced: the ticket enters the owner's inbox as RECEIVED (or keeps the
        state it already reached), to be decided within `acceptance_window` of the
        placement. A replay of an earlier placement changes nothing."""
        if self.is_placed:
            return False
        self.store_id = store_id
        self.customer_id = customer_id
        self.items = tuple(lines)
        self.total_amount = total_amount
        self.placed_at = at
        if self.status is TicketStatus.RECEIVED:  # a placeholder already cancelled waits for no one
            self.accept_by = at + acceptance_window
            self.record(AcceptanceDeadlineSet(self.order_id, self.accept_by))
        self._touch(at)
        return True

    def cancel(self, store_id: str, customer_id: str, at: datetime) -> bool:
        """OrderCancelled: cancellation wins over every state but REJECTED (already
        over, nothing to stop). CookingCancelled is raised once."""
        self.store_id = self.store_id or store_id
        self.customer_id = self.customer_id or customer_id
        sources, target = TRANSITIONS["OrderCancelled"]
        if self.status not in sources:
            return False
        self.status = target
        self._touch(at)
        self.record(contract.CookingCancelled(order_id=self.order_id, store_id=self.store_id))
        return True

    def mark_delivered(self, at: datetime) -> bool:
        return self._learn("delivered", at)

    def mark_returned(self, at: datetime) -> bool:
        return self._learn("returned", at)

    def _learn(self, fact: Literal["delivered", "returned"], at: datetime) -> bool:
        """Set a delivery fact's flag; False when it was already known."""
        if getattr(self, fact):
            return False
        setattr(self, fact, True)
        self._touch(at)
        return True

    @property
    def holds_stock(self) -> bool:
        """The food left the kitchen for good: delivered, not returned, not cancelled
        (a cancelled order stays cancelled and moves no stock), and we know what it was."""
        return (
            self.items is not None
            and self.delivered
            and not self.returned
            and self.status != TicketStatus.CANCELLED
        )

    def quantities(self) -> dict[str, int]:
        """Ordered quantity per menu item (lines of one item are summed)."""
        counts: Counter[str] = Counter()
        for line in self.items or ():
            counts[line.menu_item_id] += line.quantity
        return dict(counts)

    def stock_moved(self, taken: dict[str, int] | None) -> None:
        """Record the stock now held (`taken`), or that it was all given back (None)."""
        self.stock_taken = taken is not None
        self.taken = dict(taken or {})  # a new dict, so the JSON column sees the change

    # ---------------------------------------------------------------- owner commands

    def accept(self, at: datetime) -> None:
        self._move("accept", at)
        self.record(contract.OrderAccepted(order_id=self.order_id, store_id=self._store()))

    def reject(self, reason: str | None, at: datetime) -> None:
        reason = clean_reason(reason)
        self._move("reject", at)
        self._rejected(reason, "owner")

    def is_due(self, at: datetime) -> bool:
        """Whether the acceptance window has ended undecided at `at`."""
        return self.accept_by is not None and at >= self.accept_by and self._allows("time out")

    def time_out(self, at: datetime) -> bool:
        """The acceptance window ended: a ticket still RECEIVED is rejected, "not
        accepted in time". False, and no event, when the owner decided first (or a
        cancellation came), or when the window is still open."""
        if not self.is_due(at):
            return False
        self._move("time out", at)
        self._rejected(TIMEOUT_REASON, "timeout")
        return True

    def _rejected(self, reason: str, by: contract.RejectedBy) -> None:
        self.reason = reason
        self.record(
            contract.OrderRejected(
                order_id=self.order_id, store_id=self._store(), reason=reason, rejected_by=by
            )
        )

    def start_cooking(self, at: datetime) -> None:
        self._move("start cooking", at)
        self.record(contract.CookStarted(order_id=self.order_id, store_id=self._store()))

    def finish_cooking(self, at: datetime) -> None:
        self._move("finish cooking", at)
        self.record(contract.CookFinished(order_id=self.order_id, store_id=self._store()))

    def _allows(self, action: str) -> bool:
        return self.is_placed and self.status in TRANSITIONS[action][0]

    def _move(self, action: str, at: datetime) -> None:
        if not self.is_placed:
            raise StoreOrderNotFound(self.order_id)  # nobody can see it yet
        sources, target = TRANSITIONS[action]
        if self.status not in sources:
            raise WrongTicketState(self.order_id, self.status, action=action)
        self.status = target
        self._touch(at)

    def _store(self) -> str:
        assert self.store_id is not None, "a placed ticket knows its store"
        return self.store_id

    def _touch(self, at: datetime) -> None:
        # The latest moment anything happened, whatever order the events came in.
        if at > self.updated_at:
            self.updated_at = at
