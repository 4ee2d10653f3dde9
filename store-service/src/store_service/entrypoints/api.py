"""HTTP edge of the Kitchen context: store owners register stores, set menus, and work
the kitchen tickets of their store's orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from service_kit.http import acting_user, serve, service_app
from service_kit.kernel import InvalidInput
from store_service import views
from store_service.bootstrap import Container, bootstrap
from store_service.domain import commands
from store_service.domain.store_order import MAX_REASON, TicketStatus, clean_reason

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


class AcceptanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accepted: Annotated[bool, Field(strict=True)]
    reason: Annotated[
        str | None,
        Field(
            max_length=MAX_REASON,
            validate_default=True,  # so a missing reason is checked too
            description="Required and non-empty when rejecting; ignored when accepting",
        ),
    ] = None

    @field_validator("reason")
    @classmethod
    def _reason_when_rejecting(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("accepted") is not False:
            return None
        try:
            return clean_reason(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None  # 422 naming body.reason


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    bus, platform = container.bus, container.platform

    app = service_app(platform, summary="Kitchen context: stores, menus, kitchen tickets")

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
        found = await views.menu(platform.reads, store_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"store {store_id} not found")
        return found

    @app.put("/store-orders/{order_id}/acceptance", tags=["store orders"])
    async def decide(order_id: PathId, body: AcceptanceBody, actor: Actor) -> dict[str, Any]:
        ticket = await bus.handle(commands.DecideOrder(order_id, actor, body.accepted, body.reason))
        return views.ticket(ticket)

    @app.put("/store-orders/{order_id}/cooking-start", tags=["store orders"])
    async def start_cooking(order_id: PathId, actor: Actor) -> dict[str, Any]:
        return views.ticket(await bus.handle(commands.StartCooking(order_id, actor)))

    @app.put("/store-orders/{order_id}/cooking-finish", tags=["store orders"])
    async def finish_cooking(order_id: PathId, actor: Actor) -> dict[str, Any]:
        return views.ticket(await bus.handle(commands.FinishCooking(order_id, actor)))

    @app.get("/stores/{store_id}/orders", tags=["store orders"])
    async def store_inbox(
        store_id: PathId,
        actor: Actor,
        status: Annotated[TicketStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        return await views.store_inbox(
            platform.reads, store_id, actor, status, limit=limit, offset=offset
        )

    return app


def main() -> None:
    serve(bootstrap(), create_app)


if __name__ == "__main__":
    main()
