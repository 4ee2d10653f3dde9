"""Kitchen context: a Store with its owner, and the MenuItems it sells."""

from __future__ import annotations

from dataclasses import dataclass, field

from service_kit.kernel import Aggregate, Forbidden, NotFound
from shared_events.contract import MenuItemChanged


class StoreNotFound(NotFound, what="store"):
    """No store was registered with the id."""


class MenuItemNotFound(NotFound, what="menu item"):
    """The store sells no item with the id."""

    def __init__(self, store_id: str, item_id: str) -> None:
        super().__init__(item_id, where=f" in store {store_id}")


class NotStoreOwner(Forbidden, refusal="only the owner of store {key} may do this"):
    """Only the owner who registered a store changes it, its menu and its tickets."""


@dataclass(eq=False)
class Store(Aggregate):
    """A store belongs to the owner who registered it; only they may change it."""

    store_id: str
    owner_id: str
    name: str
    region: str

    def ensure_owned_by(self, actor_id: str) -> None:
        if actor_id != self.owner_id:
            raise NotStoreOwner(self.store_id)

    def rename(self, actor_id: str, name: str, region: str) -> None:
        self.ensure_owned_by(actor_id)
        self.name = name
        self.region = region


@dataclass(eq=False)
class MenuItem(Aggregate):
    """Price and stock of one dish; every change is published as MenuItemChanged
    (with a growing revision) so the order-service can price orders from its replica."""

    store_id: str
    item_id: str
    name: str
    price: int
    stock: int
    revision: int = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.revision = 0
        self._changed()  # a new item is news too: its first revision

    @property
    def available(self) -> bool:
        return self.stock > 0

    @property
    def menu_item_id(self) -> str:
        """The contract's name for `item_id`."""
        return self.item_id

    def change(self, name: str, price: int, stock: int) -> None:
        if (name, price, stock) == (self.name, self.price, self.stock):
            return  # PUT is idempotent: nothing new to tell anyone
        self.name, self.price, self.stock = name, price, stock
        self._changed()

    def take(self, quantity: int) -> int:
        """Delivered food leaves the stock; it never goes below 0, so this takes at
        most what there is and says how many it took."""
        taken = min(quantity, self.stock)
        self.change(self.name, self.price, self.stock - taken)
        return taken

    def give_back(self, quantity: int) -> None:
        self.change(self.name, self.price, self.stock + quantity)

    def _changed(self) -> None:
        self.revision += 1
        # The event is the item's whole current state, read off its attributes.
        self.record(MenuItemChanged.model_validate(self, from_attributes=True))
