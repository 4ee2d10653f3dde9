"""HTTP edge of the Kitchen context: store owners register stores and set menus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared_events.http import acting_user, health_router, install_error_handlers
from shared_events.runtime import configure_logging
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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with platform.lifespan():
            yield

    app = FastAPI(
        title="store-service",
        summary="Kitchen context: stores, menus, kitchen tickets",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(
        health_router({"database": platform.database_ready, "broker": platform.broker_ready})
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
    configure_logging(container.settings.service)
    uvicorn.run(
        create_app(container),
        host=container.settings.http_host,
        port=container.settings.http_port,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
