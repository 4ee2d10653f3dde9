"""HTTP edge of the Delivery context: riders see offers near them, pick, confirm
and return. The rider is the X-Actor-Id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from delivery_service import views
from delivery_service.bootstrap import Container, bootstrap
from delivery_service.domain import commands
from delivery_service.domain.model import REASON_MAX, Delivery, DeliveryNotFound, DeliveryStatus
from service_kit.http import acting_user, serve, service_app, viewing_user

PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Region = Annotated[str, Query(min_length=1, max_length=64, description="e.g. gangnam")]
Rider = Annotated[str, Depends(acting_user)]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX)
]

# The states a list may ask for; PENDING is internal and never listed.
ListedStatus = Literal["WAITING", "PICKED", "DELIVERED", "RETURNED", "CANCELLED"]


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


Viewer = Annotated[
    str | None,
    Depends(viewing_user("The viewing rider; the one who picked it also sees the address")),
]


def shown(delivery: Delivery) -> dict[str, Any]:
    return {
        "order_id": delivery.order_id,
        "status": str(delivery.status),
        "region": delivery.region,
        "store_id": delivery.store_id,
        "rider_id": delivery.rider_id,
        "updated_at": delivery.updated_at.isoformat(),
    }


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    bus, platform = container.bus, container.platform

    app = service_app(
        platform, summary="Delivery context: deliveries offered to riders, picked and confirmed"
    )

    @app.get("/deliveries", tags=["deliveries"])
    async def list_deliveries(
        region: Region,
        status: Annotated[ListedStatus, Query()] = "WAITING",
        limit: Annotated[int, Query(ge=1, le=200)] = 100,
    ) -> dict[str, Any]:
        found = await views.offers(platform.reads, region, DeliveryStatus(status), limit)
        return {"deliveries": found}

    @app.get("/deliveries/{order_id}", tags=["deliveries"])
    async def get_delivery(order_id: PathId, viewer: Viewer) -> dict[str, Any]:
        found = await views.delivery(platform.reads, order_id, viewer)
        if found is None:
            raise DeliveryNotFound(order_id)
        return found

    @app.put("/deliveries/{order_id}/pick", tags=["deliveries"])
    async def pick(order_id: PathId, rider: Rider) -> dict[str, Any]:
        return shown(await bus.handle(commands.PickFood(order_id, rider)))

    @app.put("/deliveries/{order_id}/confirm", tags=["deliveries"])
    async def confirm(order_id: PathId, rider: Rider) -> dict[str, Any]:
        return shown(await bus.handle(commands.ConfirmDelivery(order_id, rider)))

    @app.put("/deliveries/{order_id}/return", tags=["deliveries"])
    async def return_food(order_id: PathId, body: ReturnBody, rider: Rider) -> dict[str, Any]:
        return shown(await bus.handle(commands.ReturnDelivery(order_id, rider, body.reason)))

    return app


def main() -> None:
    serve(bootstrap(), create_app)


if __name__ == "__main__":
    main()
