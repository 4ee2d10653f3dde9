"""The published event contract: the payload of every event on the board.

Each payload model names its stable `event_type`, its `event_version` and the
topic it is published on. A breaking change is never made in place: add a new
model with the next version beside the old one (see `tests/test_schema_compat.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared_events import topics

Won = Annotated[int, Field(ge=0, description="An amount of money in won")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Payload(BaseModel):
    """Base of every event payload: immutable; a tolerant reader that ignores fields
    a newer producer added, so an additive optional field never breaks a consumer.

    A payload model names its place in the contract with class keywords: `topic`
    (inherited, so a base can set it for a family of events) and `version`
    (default 1). Its `event_type` is its class name; a later version is a new
    class that names the type it continues: `class OrderPlacedV2(OrderFact,
    event_type="OrderPlaced", version=2)`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    topic: ClassVar[str]

    def __init_subclass__(
        cls,
        *,
        topic: str | None = None,
        event_type: str | None = None,
        version: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if topic is not None:
            cls.topic = topic
        cls.event_type = event_type or cls.__name__
        cls.event_version = version

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


# The bases below are families, not events: only EVENT_MODELS are published.

# ---------------------------------------------------------------- Ordering


class OrderFact(Payload, topic=topics.ORDER_EVENTS):
    order_id: Id
    customer_id: Id
    store_id: Id


class OrderPlaced(OrderFact):
    """Carries everything downstream needs, so nobody has to ask the order-service."""

    items: Annotated[list[OrderLine], Field(min_length=1)]
    total_amount: Won
    delivery_address: DeliveryAddress
    phone: str


class OrderCancelled(OrderFact):
    pass


# ---------------------------------------------------------------- Kitchen


class KitchenFact(Payload, topic=topics.STORE_EVENTS):
    order_id: Id
    store_id: Id


class OrderAccepted(KitchenFact):
    pass


RejectedBy = Literal["owner", "timeout"]


class OrderRejected(KitchenFact):
    reason: str
    # Added within version 1, so optional: events published before it say nothing.
    rejected_by: RejectedBy | None = Field(
        default=None,
        description="owner: the store owner rejected; timeout: the acceptance window ended",
    )


class CookStarted(KitchenFact):
    pass


class CookFinished(KitchenFact):
    pass


class CookingCancelled(KitchenFact):
    pass


class MenuItemChanged(Payload, topic=topics.STORE_EVENTS):
    """The current state of one menu item; consumers keep the latest `revision`."""

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


class DeliveryCancelled(Payload, topic=topics.DELIVERY_EVENTS):
    order_id: Id


class RiderFact(Payload, topic=topics.DELIVERY_EVENTS):
    order_id: Id
    rider_id: Id


class FoodPicked(RiderFact):
    pass


class DeliveryConfirmed(RiderFact):
    pass


class DeliveryReturned(RiderFact):
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
