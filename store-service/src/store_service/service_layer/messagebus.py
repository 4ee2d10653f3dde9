"""Routing of the Kitchen context: which handler takes each command and event."""

from service_kit.messagebus import CommandHandler, MessageBus, Policy, UowFactory
from shared_events.contract import (
    DeliveryConfirmed,
    DeliveryReturned,
    OrderCancelled,
    OrderPlaced,
    Payload,
)
from store_service.domain import commands
from store_service.service_layer import handlers, policies

COMMAND_HANDLERS: dict[type, CommandHandler] = {
    commands.RegisterStore: handlers.register_store,  # type: ignore[dict-item]
    commands.SetMenuItem: handlers.set_menu_item,  # type: ignore[dict-item]
    commands.DecideOrder: handlers.decide_order,  # type: ignore[dict-item]
    commands.StartCooking: handlers.start_cooking,  # type: ignore[dict-item]
    commands.FinishCooking: handlers.finish_cooking,  # type: ignore[dict-item]
}

POLICIES: dict[type[Payload], Policy] = {
    OrderPlaced: policies.register_store_order,  # type: ignore[dict-item]
    OrderCancelled: policies.cancel_store_order,  # type: ignore[dict-item]
    DeliveryConfirmed: policies.take_stock_on_delivery,  # type: ignore[dict-item]
    DeliveryReturned: policies.give_back_stock_on_return,  # type: ignore[dict-item]
}


def subscribed_topics() -> list[str]:
    """The worker listens to exactly the topics that carry the events above."""
    return sorted({model.topic for model in POLICIES})


def create_bus(uow_factory: UowFactory) -> MessageBus:
    return MessageBus(uow_factory, commands=COMMAND_HANDLERS, policies=POLICIES)
