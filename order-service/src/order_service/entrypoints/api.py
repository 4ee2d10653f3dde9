"""HTTP edge of the Ordering context: customers place, read and cancel their orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from order_service import views
from order_service.bootstrap import Container, bootstrap
from order_service.domain import commands
from order_service.domain.menu import RequestedItem
from order_service.domain.model import DeliveryAddress, normalise_phone
from service_kit.http import acting_user, serve, service_app

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
Actor = Annotated[str, Depends(acting_user)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=128,
        description="Same customer and key: the same order comes back (200), nothing new "
        "is charged or published. The same key with a different body is refused (422).",
    ),
]
MAX_QUANTITY = 100
MAX_LINES = 50


class ItemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    menu_item_id: Id
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]


class AddressBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    region: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class PaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card_token: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
    ]


def _distinct_items(items: list[ItemBody]) -> list[ItemBody]:
    # One line per item: a repeated id is refused rather than merged, so what the
    # client sent is exactly what is priced (and what an idempotent replay compares).
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.menu_item_id in seen:
            raise ValueError(f"menu_item_id {item.menu_item_id} repeated at items.{index}")
        seen.add(item.menu_item_id)
    return items


class PlaceOrderBody(BaseModel):
    """No prices: the server prices every line from its menu replica."""

    model_config = ConfigDict(extra="forbid")
    store_id: Id
    items: Annotated[
        list[ItemBody], Field(min_length=1, max_length=MAX_LINES), AfterValidator(_distinct_items)
    ]
    delivery_address: AddressBody
    phone: Annotated[str, StringConstraints(max_length=20), AfterValidator(normalise_phone)]
    payment: PaymentBody

    def command(self, customer_id: str, idempotency_key: str | None) -> commands.PlaceOrder:
        return commands.PlaceOrder(
            customer_id=customer_id,
            store_id=self.store_id,
            items=tuple(RequestedItem(i.menu_item_id, i.quantity) for i in self.items),
            delivery_address=DeliveryAddress(
                self.delivery_address.line, self.delivery_address.region
            ),
            phone=self.phone,
            card_token=self.payment.card_token,
            idempotency_key=idempotency_key,
        )


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    bus, platform = container.bus, container.platform

    app = service_app(platform, summary="Ordering context: orders, their payment, the menu replica")

    @app.post(
        "/orders",
        tags=["orders"],
        status_code=201,
        responses={200: {"description": "Idempotency-Key replay: the existing order"}},
    )
    async def place_order(
        body: PlaceOrderBody,
        actor: Actor,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        placed = await bus.handle(body.command(actor, idempotency_key))
        order = await views.order_for_customer(platform.reads, placed.order_id, actor)
        return JSONResponse(
            status_code=201 if placed.created else 200,
            content=order,
            headers={"Location": f"/orders/{placed.order_id}"},
        )

    @app.get("/orders/{order_id}", tags=["orders"])
    async def get_order(order_id: PathId, actor: Actor) -> dict[str, Any]:
        return await views.order_for_customer(platform.reads, order_id, actor)

    @app.delete(
        "/orders/{order_id}",
        tags=["orders"],
        responses={
            403: {"description": "The order belongs to another customer"},
            404: {"description": "Unknown order"},
            409: {"description": "Too late to cancel; `current_state` names the status"},
        },
    )
    async def cancel_order(order_id: PathId, actor: Actor) -> dict[str, Any]:
        """CancelOrder, while the order is PLACED or ACCEPTED: the order as GET shows it,
        now CANCELLED with its payment REFUND_PENDING (or already REFUNDED)."""
        await bus.handle(commands.CancelOrder(order_id, actor))
        return await views.order_for_customer(platform.reads, order_id, actor)

    return app


def main() -> None:
    serve(bootstrap(), create_app)


if __name__ == "__main__":
    main()
