"""What a rider asks of the Delivery context."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RiderCommand:
    """What a rider asks about one order's delivery."""

    order_id: str
    rider_id: str


class PickFood(RiderCommand):
    pass


class ConfirmDelivery(RiderCommand):
    pass


@dataclass(frozen=True)
class ReturnDelivery(RiderCommand):
    reason: str
