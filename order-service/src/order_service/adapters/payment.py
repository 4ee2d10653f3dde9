"""The payment gateway port and the fake card gateway used until a real PSP is wired."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass

from service_kit.kernel import PaymentDeclined

DECLINED_TEST_CARD = "tok_declined"  # the documented test card that is always declined


class PaymentGateway(ABC):
    @abstractmethod
    async def charge(self, order_id: str, amount: int, card_token: str) -> str:
        """Charge `amount` won for the order; returns the gateway's payment reference.
        Raises PaymentDeclined when the card is refused."""

    @abstractmethod
    async def refund(self, order_id: str, reference: str, amount: int) -> None:
        """Give back an order's charge. Idempotent per order (each order has one
        charge): the refund dispatcher is at-least-once, and asking again for a
        refund already given changes nothing. A real PSP gets the order id as the
        idempotency key of its refund call."""


@dataclass
class Charge:
    order_id: str
    amount: int
    refunded: bool = False


class UnknownCharge(LookupError):
    pass


class FakeCardGateway(PaymentGateway):
    """Approves every card except DECLINED_TEST_CARD; remembers charges in memory.

    Stateless enough for a restarted process: a refund of a reference this instance
    never saw is accepted; one it did see must match its order and amount. Money
    goes back at most once per charge; `refund_calls` counts every request."""

    def __init__(self) -> None:
        self.charges: dict[str, Charge] = {}
        self.refunds: dict[str, int] = {}
        self.refund_calls: list[str] = []  # order ids, one per call, repeats included

    async def charge(self, order_id: str, amount: int, card_token: str) -> str:
        if card_token == DECLINED_TEST_CARD:
            raise PaymentDeclined("payment declined: the card was refused")
        reference = f"fake_ch_{uuid.uuid4().hex}"
        self.charges[reference] = Charge(order_id, amount)
        return reference

    async def refund(self, order_id: str, reference: str, amount: int) -> None:
        self.refund_calls.append(order_id)
        charge = self.charges.get(reference)
        if charge is not None:
            if (charge.order_id, charge.amount) != (order_id, amount):
                raise UnknownCharge(f"no charge {reference} of {amount} won for order {order_id}")
            charge.refunded = True
        self.refunds[reference] = amount  # a repeated refund changes nothing

    @property
    def refunded(self) -> list[str]:
        return list(self.refunds)
