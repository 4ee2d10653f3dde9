"""Routing of the Delivery context: which handler takes each command and event."""

from delivery_service.domain import commands
from delivery_service.service_layer import handlers, policies
from service_kit.messagebus import CommandHandler, MessageBus, Policy, UowFactory
from shared_events.contract import CookStarted, OrderCancelled, OrderPlaced, Payload

COMMAND_HANDLERS: dict[type, CommandHandler] = {
    commands.PickFood: handlers.pick_food,  # type: ignore[dict-item]
    commands.ConfirmDelivery: handlers.confirm_delivery,  # type: ignore[dict-item]
    commands.ReturnDelivery: handlers.return_delivery,  # type: ignore[dict-item]
}

POLICIES: dict[type[Payload], Policy] = {
    OrderPlaced: policies.keep_delivery_address,  # type: ignore[dict-item]
    CookStarted: policies.open_delivery,  # type: ignore[dict-item]
    OrderCancelled: policies.cancel_delivery,  # type: ignore[dict-item]
}


def subscribed_topics() -> list[str]:
    """The worker listens to exactly the topics that carry the events above."""
    return sorted({model.topic for model in POLICIES})


def create_bus(uow_factory: UowFactory) -> MessageBus:
    return MessageBus(uow_factory, commands=COMMAND_HANDLERS, policies=POLICIES)
