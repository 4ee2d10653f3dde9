"""Command handlers of the Kitchen context: load, decide, commit.

A command that loses the optimistic version check (another command, or a policy
applied by the worker, committed the same aggregate between our read and our
write: on PostgreSQL, where transactions overlap) is decided again on the fresh
state. So the loser gets the state check's answer, a 409 naming the current
state, instead of a bare "changed concurrently; retry".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from service_kit.retry import decided_again_when_stale
from shared_events.envelope import utcnow
from store_service.domain import commands
from store_service.domain.model import MenuItem, NotStoreOwner, Store, StoreNotFound
from store_service.domain.store_order import StoreOrder, StoreOrderNotFound
from store_service.service_layer.unit_of_work import UnitOfWork


@decided_again_when_stale
async def register_store(cmd: commands.RegisterStore, uow: UnitOfWork) -> Store:
    """PUT semantics: the first caller becomes the owner; later calls by the owner
    rename the store, by anyone else are refused."""
    async with uow:
        store = await uow.stores.get(cmd.store_id)
        if store is None:
            store = Store(cmd.store_id, cmd.owner_id, cmd.name, cmd.region)
            uow.stores.add(store)
        else:
            store.rename(cmd.owner_id, cmd.name, cmd.region)
        await uow.commit()
        return store


@decided_again_when_stale
async def set_menu_item(cmd: commands.SetMenuItem, uow: UnitOfWork) -> MenuItem:
    """PUT semantics, by the store's owner only: afterwards the item is as the command
    describes it, whether it was new or not."""
    async with uow:
        store = await uow.stores.get(cmd.store_id)
        if store is None:
            raise StoreNotFound(cmd.store_id)
        store.ensure_owned_by(cmd.owner_id)
        found = await uow.menu_items.get(cmd.store_id, cmd.item_id)
        item = found or MenuItem(cmd.store_id, cmd.item_id, cmd.name, cmd.price, cmd.stock)
        item.change(cmd.name, cmd.price, cmd.stock)  # a new item is so already: no event
        uow.menu_items.add(item)  # a no-op for an item that was already there
        await uow.commit()
        return item


@decided_again_when_stale
async def decide_order(cmd: commands.DecideOrder, uow: UnitOfWork) -> StoreOrder:
    if cmd.accepted:
        return await _on_owned_ticket(cmd, uow, StoreOrder.accept)
    return await _on_owned_ticket(cmd, uow, lambda ticket, at: ticket.reject(cmd.reason, at))


@decided_again_when_stale
async def start_cooking(cmd: commands.StartCooking, uow: UnitOfWork) -> StoreOrder:
    return await _on_owned_ticket(cmd, uow, StoreOrder.start_cooking)


@decided_again_when_stale
async def finish_cooking(cmd: commands.FinishCooking, uow: UnitOfWork) -> StoreOrder:
    return await _on_owned_ticket(cmd, uow, StoreOrder.finish_cooking)


async def _on_owned_ticket(
    cmd: commands.TicketCommand,
    uow: UnitOfWork,
    decide: Callable[[StoreOrder, datetime], None],
) -> StoreOrder:
    """Load the ticket, let the owner's decision change it now, commit."""
    async with uow:
        ticket = await _owned_ticket(cmd.order_id, cmd.owner_id, uow)
        decide(ticket, utcnow())
        await uow.commit()
        return ticket


async def _owned_ticket(order_id: str, actor_id: str, uow: UnitOfWork) -> StoreOrder:
    """The ticket, once its OrderPlaced has arrived (404 before: the owner cannot see
    it yet), and only for the owner of its store (403)."""
    ticket = await uow.store_orders.get(order_id)
    if ticket is None or not ticket.is_placed or ticket.store_id is None:
        raise StoreOrderNotFound(order_id)
    store = await uow.stores.get(ticket.store_id)
    if store is None:
        raise NotStoreOwner(ticket.store_id)  # a store unknown here has no owner to act
    store.ensure_owned_by(actor_id)
    return ticket
