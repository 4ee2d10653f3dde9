"""HTTP edge of the Kitchen context: store owners register stores, set menus, and work
the kitchen tickets of their store's orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from service_kit.http import (
    Owner,
    Page,
    PathId,
    RegionQuery,
    RequestBody,
    Shaped,
    command_route,
    declare,
    paging,
    service_api,
    text,
)
from service_kit.kernel import InvalidInput
from service_kit.problems import ACTOR, BODY, PARAMS
from store_service import views
from store_service.bootstrap import Container, bootstrap
from store_service.domain import commands
from store_service.domain.store_order import MAX_REASON, TicketStatus, clean_reason

Name = Annotated[str, text(100)]
Region = Annotated[str, text(64)]
Paging = Annotated[Page, paging(default=100, most=200)]
# A command on a kitchen ticket: the acting owner's, in the state that allows it.
TICKET = command_route(views.TicketView)


class StoreBody(RequestBody):
    name: Name
    region: Region


class MenuItemBody(RequestBody):
    name: Name
    price: Annotated[int, Field(strict=True, ge=0, le=10_000_000, description="won")]
    stock: Annotated[int, Field(strict=True, ge=0, le=1_000_000)]


class AcceptanceBody(RequestBody):
    # The rule "a reason when rejecting", for the schema too (JSON Schema if/then).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"accepted": {"const": False}}},
            "then": {
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "pattern": r"\S"}},
            },
        },
    )
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


def routes(container: Container) -> APIRouter:
    bus, platform = container.bus, container.platform
    router = APIRouter()

    @router.put(
        "/stores/{store_id}",
        tags=["stores"],
        response_model=views.StoreView,
        responses=declare(*ACTOR, *BODY, 403, 409),
    )
    async def register_store(store_id: PathId, body: StoreBody, actor: Owner) -> views.StoreView:
        store = await bus.handle(
            commands.RegisterStore(store_id, actor.sub, body.name, body.region)
        )
        return views.StoreView.model_validate(store, from_attributes=True)

    @router.put(
        "/stores/{store_id}/menu/{item_id}",
        tags=["menu"],
        response_model=views.MenuItemView,
        responses=declare(*ACTOR, *BODY, 403, 404, 409),
    )
    async def set_menu_item(
        store_id: PathId, item_id: PathId, body: MenuItemBody, actor: Owner
    ) -> views.MenuItemView:
        item = await bus.handle(
            commands.SetMenuItem(store_id, item_id, actor.sub, body.name, body.price, body.stock)
        )
        return views.MenuItemView.model_validate(item, from_attributes=True)

    @router.get(
        "/stores",
        tags=["stores"],
        response_model=views.StoreList,
        responses=declare(*PARAMS),
    )
    async def list_stores(region: RegionQuery, page: Paging) -> dict[str, Any]:
        """The stores in a region, by name: public, for customers choosing where to order."""
        return await platform.reads(views.stores_in_region, region, page)

    @router.get(
        "/stores/{store_id}/menu",
        tags=["menu"],
        response_model=views.MenuView,
        responses=declare(*PARAMS, 404),
    )
    async def get_menu(store_id: PathId) -> dict[str, Any]:
        found = await platform.reads(views.menu, store_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"store {store_id} not found")
        return found

    @router.put(
        "/store-orders/{order_id}/acceptance",
        tags=["store orders"],
        **command_route(views.TicketView, *BODY),
    )
    async def decide(order_id: PathId, body: AcceptanceBody, actor: Owner) -> Shaped:
        ticket = await bus.handle(
            commands.DecideOrder(order_id, actor.sub, body.accepted, body.reason)
        )
        return Shaped(views.ticket(ticket))  # views.ticket shapes it as TicketView

    @router.put("/store-orders/{order_id}/cooking-start", tags=["store orders"], **TICKET)
    async def start_cooking(order_id: PathId, actor: Owner) -> Shaped:
        return Shaped(views.ticket(await bus.handle(commands.StartCooking(order_id, actor.sub))))

    @router.put("/store-orders/{order_id}/cooking-finish", tags=["store orders"], **TICKET)
    async def finish_cooking(order_id: PathId, actor: Owner) -> Shaped:
        return Shaped(views.ticket(await bus.handle(commands.FinishCooking(order_id, actor.sub))))

    @router.get(
        "/stores/{store_id}/orders",
        tags=["store orders"],
        response_model=views.InboxView,
        responses=declare(*ACTOR, 403, 404),
    )
    async def store_inbox(
        store_id: PathId,
        actor: Owner,
        page: Paging,
        status: Annotated[TicketStatus | None, Query()] = None,
    ) -> Shaped:
        # Polled by every owner: views.store_inbox shapes it as InboxView, not validated again.
        return Shaped(await platform.reads(views.store_inbox, store_id, actor.sub, status, page))

    return router


create_app, main = service_api(bootstrap, routes, "Kitchen context: stores, menus, kitchen tickets")


if __name__ == "__main__":
    main()
