"""Read queries of the Kitchen context (straight SQL, no aggregates)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store_service.adapters.orm import menu_items, stores


async def menu(sessions: async_sessionmaker[AsyncSession], store_id: str) -> dict[str, Any] | None:
    async with sessions() as session:
        store = (await session.execute(select(stores).where(stores.c.store_id == store_id))).first()
        if store is None:
            return None
        items = await session.execute(
            select(menu_items)
            .where(menu_items.c.store_id == store_id)
            .order_by(menu_items.c.item_id)
        )
        return {
            "store_id": store.store_id,
            "name": store.name,
            "region": store.region,
            "items": [
                {
                    "item_id": i.item_id,
                    "name": i.name,
                    "price": i.price,
                    "stock": i.stock,
                    "available": i.stock > 0,
                }
                for i in items
            ],
        }
