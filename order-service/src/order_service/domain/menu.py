"""The Ordering context's replica of the store menus, kept from MenuItemChanged.

Prices and availability come only from here, never from the client. The replica
is eventually consistent with the Kitchen: a stale "available" is caught there
(the store rejects the order, and the payment is refunded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from order_service.domain.model import OrderLine
from service_kit.kernel import Aggregate, InvalidInput
from shared_events.contract import MenuItemChanged


@dataclass(frozen=True)
class RequestedItem:
    menu_item_id: str
    quantity: int


class UnknownMenuItem(InvalidInput):
    def __init__(self, store_id: str, menu_item_id: str, index: int) -> None:
        super().__init__(
            f"menu item {menu_item_id} is unknown at store {store_id}",
            field=f"items.{index}.menu_item_id",
        )


class MenuItemUnavailable(InvalidInput):
    def __init__(self, menu_item_id: str, index: int, reason: str) -> None:
        super().__init__(
            f"menu item {menu_item_id} is unavailable: {reason}",
            field=f"items.{index}.menu_item_id",
        )


@dataclass(eq=False)
class MenuItemReplica(Aggregate):
    """The newest known state of one store's menu item (by the store's `revision`)."""

    store_id: str
    menu_item_id: str
    name: str
    price: int
    stock: int
    available: bool
    revision: int

    @classmethod
    def from_event(cls, event: MenuItemChanged) -> MenuItemReplica:
        # The replica's fields are the event's (the contract may add more later).
        return cls(**{f.name: getattr(event, f.name) for f in fields(cls)})

    def apply(self, event: MenuItemChanged) -> bool:
        """Take the event only if it is newer: late or repeated events are ignored,
        so any arrival order converges on the store's latest revision."""
        if event.revision <= self.revision:
            return False
        self.name, self.price, self.stock = event.name, event.price, event.stock
        self.available, self.revision = event.available, event.revision
        return True

    def refusal(self, quantity: int) -> str | None:
        """Why this item cannot be ordered in this quantity, or None."""
        if not self.available:
            return "not available at the store"
        # The replica's stock is the store's stock on hand; asking for more than
        # that is refused here rather than left for the kitchen to reject.
        if self.stock < quantity:
            return f"only {self.stock} left"
        return None


def price_items(
    store_id: str,
    requested: Sequence[RequestedItem],
    menu: Mapping[str, MenuItemReplica],
) -> list[OrderLine]:
    """Server-side pricing: each requested item at its replica price, or a 422
    naming the first item that is unknown at this store or unavailable."""
    lines = []
    for index, item in enumerate(requested):
        replica = menu.get(item.menu_item_id)
        if replica is None or replica.store_id != store_id:
            raise UnknownMenuItem(store_id, item.menu_item_id, index)
        reason = replica.refusal(item.quantity)
        if reason is not None:
            raise MenuItemUnavailable(item.menu_item_id, index, reason)
        lines.append(OrderLine(item.menu_item_id, replica.name, replica.price, item.quantity))
    return lines
