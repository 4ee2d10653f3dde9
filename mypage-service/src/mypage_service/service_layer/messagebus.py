"""Routing of the Customer context: which policy takes each consumed event."""

from mypage_service.domain.status import STATUS_BY_EVENT
from mypage_service.service_layer import handlers
from service_kit.messagebus import MessageBus, Policy, UowFactory
from shared_events.contract import Payload

# Every event of an order goes through the same projection; MenuItemChanged says
# nothing about an order and is not registered, so the consumer skips it.
POLICIES: dict[type[Payload], Policy] = {
    event: handlers.project_order_event  # type: ignore[misc]
    for event in STATUS_BY_EVENT
}


def subscribed_topics() -> list[str]:
    """The worker listens to exactly the topics that carry the events above."""
    return sorted({model.topic for model in POLICIES})


def create_bus(uow_factory: UowFactory) -> MessageBus:
    return MessageBus(uow_factory, commands={}, policies=POLICIES)
