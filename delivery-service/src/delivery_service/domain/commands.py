"""What a rider asks of the Delivery context."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PickFood:
    order_id: str
    rider_id: str


@dataclass(frozen=True)
class ConfirmDelivery:
    order_id: str
    rider_id: str


@dataclass(frozen=True)
class ReturnDelivery:
    order_id: str
    rider_id: str
    reason: str
