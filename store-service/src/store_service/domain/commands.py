"""What a store owner asks of the Kitchen context."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RegisterStore:
    store_id: str
    owner_id: str
    name: str
    region: str


@dataclass(frozen=True)
class SetMenuItem:
    store_id: str
    item_id: str
    owner_id: str
    name: str
    price: int
    stock: int


@dataclass(frozen=True)
class TicketCommand:
    """What the owner of the ticket's store asks of one order's ticket."""

    order_id: str
    owner_id: str


@dataclass(frozen=True)
class DecideOrder(TicketCommand):
    """Accept a received order, or reject it with a reason."""

    accepted: bool
    reason: str | None = None


class StartCooking(TicketCommand):
    pass


class FinishCooking(TicketCommand):
    pass
