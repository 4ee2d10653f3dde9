"""Stock follows the kitchen tickets: a domain service over a StoreOrder and the
MenuItems it ordered, changed together in one transaction.

The move is derived from the ticket's state, not from the event that just came:
take when the ticket holds stock and has not taken it yet, give back exactly what
was taken when it no longer does. So each movement happens once, whatever order
(and however often) the order's events arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from store_service.domain.model import MenuItem
from store_service.domain.store_order import StoreOrder


@dataclass(frozen=True)
class Shortfall:
    """Less stock moved than the order says: the item ran out, or is unknown here."""

    menu_item_id: str
    wanted: int
    moved: int
    unknown: bool = False


@dataclass
class StockMove:
    direction: str | None = None  # "take" | "give back" | None (nothing to do)
    moved: dict[str, int] = field(default_factory=dict)
    shortfalls: list[Shortfall] = field(default_factory=list)


def stock_move_needed(ticket: StoreOrder) -> bool:
    return ticket.holds_stock != ticket.stock_taken


def reconcile_stock(ticket: StoreOrder, menu: Mapping[str, MenuItem]) -> StockMove:
    """`menu` holds the store's items the ticket names, by item id."""
    if not stock_move_needed(ticket):
        return StockMove()
    if ticket.holds_stock:
        move = StockMove("take")
        for item_id, wanted in ticket.quantities().items():
            item = menu.get(item_id)
            moved = item.take(wanted) if item is not None else 0
            move.moved[item_id] = moved
            if moved < wanted:
                move.shortfalls.append(Shortfall(item_id, wanted, moved, item is None))
        ticket.stock_moved(move.moved)
        return move
    move = StockMove("give back")
    for item_id, taken in ticket.taken.items():
        if taken == 0:
            continue  # nothing was taken (out of stock, or unknown here)
        item = menu.get(item_id)
        if item is None:
            move.shortfalls.append(Shortfall(item_id, taken, 0, unknown=True))
            continue
        item.give_back(taken)
        move.moved[item_id] = taken
    ticket.stock_moved(None)
    return move
