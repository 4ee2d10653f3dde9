"""HTTP edge of the Kitchen context: store owners register stores and set menus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared_events.http import acting_user, serve, service_app
from store_service import views
from store_service.bootstrap import Container, bootstrap
from store_service.domain import commands

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Actor = Annotated[str, Depends(acting_user)]


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    region: Region


class MenuItemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    price: Annotated[int, Field(strict=True, ge=0, le=10_000_000, description="won")]
    stock: Annotated[int, Field(strict=True, ge=0, le=1_000_000)]


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    bus, platform = container.bus, container.platform

    app = service_app(
        platform, title="store-service", summary="Kitchen context: stores, menus, kitchen tickets"
    )

    @app.put("/stores/{store_id}", tags=["stores"])
    async def register_store(store_id: PathId, body: StoreBody, actor: Actor) -> dict[str, Any]:
        store = await bus.handle(commands.RegisterStore(store_id, actor, body.name, body.region))
        return {
            "store_id": store.store_id,
            "owner_id": store.owner_id,
            "name": store.name,
            "region": store.region,
        }

    @app.put("/stores/{store_id}/menu/{item_id}", tags=["menu"])
    async def set_menu_item(
        store_id: PathId, item_id: PathId, body: MenuItemBody, actor: Actor
    ) -> dict[str, Any]:
        item = await bus.handle(
            commands.SetMenuItem(store_id, item_id, actor, body.name, body.price, body.stock)
        )
        return {
            "store_id": item.store_id,
            "item_id": item.item_id,
            "name": item.name,
            "price": item.price,
            "stock": item.stock,
            "available": item.available,
            "revision": item.revision,
        }

    @app.get("/stores/{store_id}/menu", tags=["menu"])
    async def get_menu(store_id: PathId) -> dict[str, Any]:
        found = await views.menu(platform.sessions, store_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"store {store_id} not found")
        return found

    return app


def main() -> None:
    container = bootstrap()
    serve(create_app(container), container.settings)


if __name__ == "__main__":
    main()
