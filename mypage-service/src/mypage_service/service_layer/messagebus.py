"""Routing of the Customer context: which policy takes each consumed event."""

from mypage_service.service_layer import handlers
from shared_events.contract import OrderPlaced, Payload
from shared_events.messagebus import MessageBus, Policy, UowFactory

# The walking skeleton projects OrderPlaced; every later event of an order
# goes through the same projection (see domain.status.STATUS_BY_EVENT).
POLICIES: dict[type[Payload], Policy] = {
    OrderPlaced: handlers.project_order_event,  # type: ignore[dict-item]
}


def subscribed_topics() -> list[str]:
    """The worker listens to exactly the topics that carry the events above."""
    return sorted({model.topic for model in POLICIES})


def create_bus(uow_factory: UowFactory) -> MessageBus:
    return MessageBus(uow_factory, commands={}, policies=POLICIES)
