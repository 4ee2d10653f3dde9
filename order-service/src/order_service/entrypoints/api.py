"""HTTP edge of the Ordering context: customers place, read and cancel their orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import AfterValidator, Field, StringConstraints

from order_service import views
from order_service.bootstrap import Container, bootstrap
from order_service.domain import commands
from order_service.domain.menu import RequestedItem
from order_service.domain.model import DeliveryAddress, normalise_phone
from order_service.service_layer.unit_of_work import REFUNDS_OWED
from service_kit.http import (
    Customer,
    Id,
    PathId,
    RequestBody,
    Shaped,
    command_route,
    declare,
    service_api,
    text,
)
from service_kit.problems import ACTOR, BODY

# What normalise_phone accepts, for the schema: a Korean mobile number, dashes optional.
PHONE_PATTERN = r"^\s*(010-?[0-9]{4}|01[16789]-?[0-9]{3,4})-?[0-9]{4}\s*$"
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


class ItemBody(RequestBody):
    menu_item_id: Id
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]


class AddressBody(RequestBody):
    line: Annotated[str, text(200)]
    region: Annotated[str, text(64)]


class PaymentBody(RequestBody):
    card_token: Annotated[str, text(128)]


def _distinct_items(items: list[ItemBody]) -> list[ItemBody]:
    # One line per item: a repeated id is refused rather than merged, so what the
    # client sent is exactly what is priced (and what an idempotent replay compares).
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.menu_item_id in seen:
            raise ValueError(f"menu_item_id {item.menu_item_id} repeated at items.{index}")
        seen.add(item.menu_item_id)
    return items


class PlaceOrderBody(RequestBody):
    """No prices: the server prices every line from its menu replica."""

    store_id: Id
    items: Annotated[
        list[ItemBody], Field(min_length=1, max_length=MAX_LINES), AfterValidator(_distinct_items)
    ]
    delivery_address: AddressBody
    phone: Annotated[
        str,
        StringConstraints(max_length=20),
        Field(json_schema_extra={"pattern": PHONE_PATTERN}, examples=["010-1234-5678"]),
        AfterValidator(normalise_phone),  # its message says what a valid number is
    ]
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


def routes(container: Container) -> APIRouter:
    bus, platform = container.bus, container.platform
    router = APIRouter(tags=["orders"])
    refunds = container.refunds

    def changed(keys: list[str]) -> None:
        if REFUNDS_OWED in keys:  # a commit, the worker's too, left a refund owed
            refunds.wake()

    platform.on_changed = changed

    @router.post(
        "/orders",
        status_code=201,
        response_model=views.OrderView,
        responses={
            200: {"model": views.OrderView, "description": "Idempotency-Key replay: the order"},
            **declare(*ACTOR, *BODY, 402, 409),
        },
    )
    async def place_order(
        body: PlaceOrderBody,
        actor: Customer,
        idempotency_key: IdempotencyKey = None,
    ) -> Shaped:
        placed = await bus.handle(body.command(actor.sub, idempotency_key))
        if placed.committed is not None:  # as a read of it would find it, without one
            order = views.placed_order(*placed.committed)
        else:
            order = await platform.reads(views.order_for_customer, placed.order_id, actor.sub)
        return Shaped(  # views.order_for_customer shapes it as OrderView
            order,
            status_code=201 if placed.created else 200,
            headers={"Location": f"/orders/{placed.order_id}"},
        )

    @router.get(
        "/orders/{order_id}",
        response_model=views.OrderView,
        responses=declare(*ACTOR, 403, 404),
    )
    async def get_order(order_id: PathId, actor: Customer) -> Shaped:
        # Polled by every customer's client: views.order_for_customer shapes it as OrderView.
        return Shaped(await platform.reads(views.order_for_customer, order_id, actor.sub))

    @router.delete("/orders/{order_id}", **command_route(views.OrderView))
    async def cancel_order(order_id: PathId, actor: Customer) -> Shaped:
        """CancelOrder, while the order is PLACED or ACCEPTED: the order as GET shows it,
        now CANCELLED with its payment REFUND_PENDING (or already REFUNDED)."""
        await bus.handle(commands.CancelOrder(order_id, actor.sub))
        return Shaped(await platform.reads(views.order_for_customer, order_id, actor.sub))

    return router


create_app, main = service_api(
    bootstrap, routes, "Ordering context: orders, their payment, the menu replica"
)


if __name__ == "__main__":
    main()
