"""The published event contract: the payload of every event on the board.

Each payload model names its stable `event_type`, its `event_version` and the
topic it is published on. A breaking change is never made in place: add a new
model with the next version beside the old one (see `tests/test_schema_compat.py`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared_events import topics

Won = Annotated[int, Field(ge=0, description="An amount of money in won")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Payload(BaseModel):
    """Base of every event payload: immutable; a tolerant reader that ignores fields
    a newer producer added, so an additive optional field never breaks a consumer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    topic: ClassVar[str]

    @property
    def aggregate_id(self) -> str:
        """The message key: everything about one order shares its order id."""
        key = getattr(self, "order_id", None)
        if not isinstance(key, str):
            raise TypeError(f"{type(self).__name__} has no order_id: override aggregate_id")
        return key


# ---------------------------------------------------------------- value objects


class DeliveryAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    line: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    region: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class OrderLine(BaseModel):
    """An ordered menu item, priced by the order-service (never by the client)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    menu_item_id: Id
    name: str
    unit_price: Won
    quantity: Annotated[int, Field(ge=1)]
    line_total: Won


# ---------------------------------------------------------------- Ordering


class OrderPlaced(Payload):
    """Carries everything downstream needs, so nobody has to ask the order-service."""

    event_type: ClassVar[str] = "OrderPlaced"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.ORDER_EVENTS

    order_id: Id
    customer_id: Id
    store_id: Id
    items: Annotated[list[OrderLine], Field(min_length=1)]
    total_amount: Won
    delivery_address: DeliveryAddress
    phone: str


class OrderCancelled(Payload):
    event_type: ClassVar[str] = "OrderCancelled"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.ORDER_EVENTS

    order_id: Id
    customer_id: Id
    store_id: Id


# ---------------------------------------------------------------- Kitchen


class OrderAccepted(Payload):
    event_type: ClassVar[str] = "OrderAccepted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.STORE_EVENTS

    order_id: Id
    store_id: Id


RejectedBy = Literal["owner", "timeout"]


class OrderRejected(Payload):
    event_type: ClassVar[str] = "OrderRejected"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.STORE_EVENTS

    order_id: Id
    store_id: Id
    reason: str
    # Added within version 1, so optional: events published before it say nothing.
    rejected_by: RejectedBy | None = Field(
        default=None,
        description="owner: the store owner rejected; timeout: the acceptance window ended",
    )


class CookStarted(Payload):
    event_type: ClassVar[str] = "CookStarted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.STORE_EVENTS

    order_id: Id
    store_id: Id


class CookFinished(Payload):
    event_type: ClassVar[str] = "CookFinished"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.STORE_EVENTS

    order_id: Id
    store_id: Id


class CookingCancelled(Payload):
    event_type: ClassVar[str] = "CookingCancelled"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.STORE_EVENTS

    order_id: Id
    store_id: Id


class MenuItemChanged(Payload):
    """The current state of one menu item; consumers keep the latest `revision`."""

    event_type: ClassVar[str] = "MenuItemChanged"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.STORE_EVENTS

    store_id: Id
    menu_item_id: Id
    name: str
    price: Won
    stock: Annotated[int, Field(ge=0)]
    available: bool
    revision: Annotated[int, Field(ge=1, description="Increases with every change of the item")]

    @property
    def aggregate_id(self) -> str:
        # Keyed by store and item, so one item's changes stay in order.
        return f"{self.store_id}/{self.menu_item_id}"


# ---------------------------------------------------------------- Delivery


class FoodPicked(Payload):
    event_type: ClassVar[str] = "FoodPicked"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.DELIVERY_EVENTS

    order_id: Id
    rider_id: Id


class DeliveryConfirmed(Payload):
    event_type: ClassVar[str] = "DeliveryConfirmed"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.DELIVERY_EVENTS

    order_id: Id
    rider_id: Id


class DeliveryCancelled(Payload):
    event_type: ClassVar[str] = "DeliveryCancelled"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.DELIVERY_EVENTS

    order_id: Id


class DeliveryReturned(Payload):
    event_type: ClassVar[str] = "DeliveryReturned"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.DELIVERY_EVENTS

    order_id: Id
    rider_id: Id
    reason: str


EVENT_MODELS: tuple[type[Payload], ...] = (
    OrderPlaced,
    OrderCancelled,
    OrderAccepted,
    OrderRejected,
    CookStarted,
    CookFinished,
    CookingCancelled,
    MenuItemChanged,
    FoodPicked,
    DeliveryConfirmed,
    DeliveryCancelled,
    DeliveryReturned,
)
