"""HTTP edge of the Delivery context: riders see offers near them, pick, confirm
and return. The rider is the subject of the bearer token; offers default to the
region in it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from delivery_service import views
from delivery_service.bootstrap import Container, bootstrap
from delivery_service.domain import commands
from delivery_service.domain.model import REASON_MAX, Delivery, DeliveryNotFound, DeliveryStatus
from service_kit.http import (
    Page,
    PathId,
    RegionQuery,
    RequestBody,
    Rider,
    Shaped,
    command_route,
    declare,
    paging,
    service_api,
    text,
)
from service_kit.problems import ACTOR, BODY

Paging = Annotated[Page, paging(default=100, most=200)]
Reason = Annotated[str, text(REASON_MAX)]

# The states a list may ask for; PENDING is internal and never listed.
ListedStatus = Literal["WAITING", "PICKED", "DELIVERED", "RETURNED", "CANCELLED"]
# A rider's command on a delivery, in the state that allows it.
COMMAND = command_route(views.DeliveryView)


class ReturnBody(RequestBody):
    reason: Reason


def shown(delivery: Delivery) -> Shaped:
    """A command's answer, in DeliveryView's shape (not validated again: http.Shaped)."""
    return Shaped(
        {
            "order_id": delivery.order_id,
            "status": str(delivery.status),
            "region": delivery.region,
            "store_id": delivery.store_id,
            "rider_id": delivery.rider_id,
            "updated_at": delivery.updated_at.isoformat(),
        }
    )


def routes(container: Container) -> APIRouter:
    bus, platform = container.bus, container.platform
    router = APIRouter(tags=["deliveries"])

    @router.get(
        "/deliveries",
        response_model=views.Offers,
        responses=declare(*ACTOR),
    )
    async def list_deliveries(
        rider: Rider,
        page: Paging,
        region: RegionQuery | None = None,
        status: Annotated[ListedStatus, Query()] = "WAITING",
    ) -> Shaped:
        """Offers in `region`, by default the region in the rider's token."""
        region = region or rider.region
        if region is None:
            missing = {
                "loc": ("query", "region"),
                "msg": "the token names no region",
                "type": "missing",
            }
            raise RequestValidationError([missing])
        found = await platform.reads(views.offers, region, DeliveryStatus(status), page)
        return Shaped({"deliveries": found})  # polled by riders: views.offers shapes it

    @router.get(
        "/deliveries/{order_id}",
        response_model=views.DeliveryDetail,
        response_model_exclude_unset=True,  # the address line only for its rider
        responses=declare(*ACTOR, 404),
    )
    async def get_delivery(order_id: PathId, rider: Rider) -> Shaped:
        found = await platform.reads(views.delivery, order_id, rider.sub)
        if found is None:
            raise DeliveryNotFound(order_id)
        return Shaped(found)  # views.delivery shapes it (the address only for its rider)

    @router.put("/deliveries/{order_id}/pick", **COMMAND)
    async def pick(order_id: PathId, rider: Rider) -> Shaped:
        return shown(await bus.handle(commands.PickFood(order_id, rider.sub)))

    @router.put("/deliveries/{order_id}/confirm", **COMMAND)
    async def confirm(order_id: PathId, rider: Rider) -> Shaped:
        return shown(await bus.handle(commands.ConfirmDelivery(order_id, rider.sub)))

    @router.put("/deliveries/{order_id}/return", **command_route(views.DeliveryView, *BODY))
    async def return_food(order_id: PathId, body: ReturnBody, rider: Rider) -> Shaped:
        return shown(await bus.handle(commands.ReturnDelivery(order_id, rider.sub, body.reason)))

    return router


create_app, main = service_api(
    bootstrap, routes, "Delivery context: deliveries offered to riders, picked and confirmed"
)


if __name__ == "__main__":
    main()
