"""One order's little world for the cancel, kitchen-policy, refund and convergence
tests: the bus over the in-memory unit of work, the fake card gateway and the
refund dispatcher, with the dispatcher's wake() counted rather than run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from order_service.adapters.payment import FakeCardGateway
from order_service.domain import commands
from order_service.domain.menu import RequestedItem
from order_service.domain.model import DeliveryAddress, Order
from order_service.domain.payment import Payment
from order_service.service_layer.messagebus import create_bus
from order_service.service_layer.refunds import Refunds
from service_kit.claims import ClaimLoop, Pacing
from service_kit.messagebus import MessageBus
from service_kit.uow import Trace
from shared_events.contract import MenuItemChanged, OrderCancelled, Payload
from shared_events.envelope import Envelope, wrap

from .fakes import FakeUnitOfWork

T0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@dataclass
class World:
    gateway: FakeCardGateway = field(default_factory=FakeCardGateway)
    uow: FakeUnitOfWork = field(default_factory=FakeUnitOfWork)
    wakes: int = 0

    def __post_init__(self) -> None:
        self.bus: MessageBus = create_bus(self.uow.factory, self.gateway, self._wake)
        self.refunds = ClaimLoop(
            lambda: self.uow.factory(Trace()),
            Refunds(self.gateway),
            Pacing(poll_interval=0.01, backoff_multiplier=0.001, max_backoff=0.01),
        )

    def _wake(self) -> None:
        self.wakes += 1

    async def place(self, customer_id: str = "c1", *, price: int = 9000) -> str:
        stocked = MenuItemChanged(
            store_id="s1",
            menu_item_id="m1",
            name="Bibimbap",
            price=price,
            stock=50,
            available=True,
            revision=1,
        )
        await self.bus.handle_event(wrap(stocked, producer="store-service"), stocked)
        placed = await self.bus.handle(
            commands.PlaceOrder(
                customer_id=customer_id,
                store_id="s1",
                items=(RequestedItem("m1", 2),),
                delivery_address=DeliveryAddress("12 Teheran-ro", "gangnam"),
                phone="010-1234-5678",
                card_token="tok_ok",
            )
        )
        return placed.order_id

    async def cancel(self, order_id: str, customer_id: str = "c1") -> None:
        await self.bus.handle(commands.CancelOrder(order_id, customer_id))

    async def deliver(self, envelope: Envelope, event: Payload) -> bool:
        return await self.bus.handle_event(envelope, event)

    def order(self, order_id: str) -> Order:
        return self.uow.orders.rows[order_id]

    def payment(self, order_id: str) -> Payment:
        return self.uow.payments.rows[order_id]

    def cancellations(self) -> list[OrderCancelled]:
        return [e.event() for e in self.uow.published if e.event_type == "OrderCancelled"]


def store_event(event: Payload, minutes: int) -> tuple[Envelope, Payload]:
    """A store-service envelope, occurred_at set explicitly in causal order."""
    return wrap(event, producer="store-service", occurred_at=T0 + timedelta(minutes=minutes)), event
