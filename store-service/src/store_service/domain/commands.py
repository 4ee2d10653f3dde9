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
class DecideOrder:
    """Accept a received order, or reject it with a reason."""

    order_id: str
    owner_id: str
    accepted: bool
    reason: str | None = None


@dataclass(frozen=True)
class StartCooking:
    order_id: str
    owner_id: str


@dataclass(frozen=True)
class FinishCooking:
    order_id: str
    owner_id: str
