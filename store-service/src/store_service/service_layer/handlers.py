"""Command handlers of the Kitchen context: load, decide, commit."""

from __future__ import annotations

from store_service.domain import commands
from store_service.domain.model import MenuItem, Store, StoreNotFound
from store_service.service_layer.unit_of_work import UnitOfWork


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


async def set_menu_item(cmd: commands.SetMenuItem, uow: UnitOfWork) -> MenuItem:
    async with uow:
        store = await uow.stores.get(cmd.store_id)
        if store is None:
            raise StoreNotFound(cmd.store_id)
        store.ensure_owned_by(cmd.owner_id)
        item = await uow.menu_items.get(cmd.store_id, cmd.item_id)
        if item is None:
            item = MenuItem(cmd.store_id, cmd.item_id, cmd.name, cmd.price, cmd.stock)
            uow.menu_items.add(item)
        else:
            item.change(cmd.name, cmd.price, cmd.stock)
        await uow.commit()
        return item
