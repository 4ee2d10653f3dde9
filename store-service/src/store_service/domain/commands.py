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
