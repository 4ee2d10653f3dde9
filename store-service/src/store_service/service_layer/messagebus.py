"""Routing of the Kitchen context: which handler takes each command and event."""

from shared_events.messagebus import CommandHandler, MessageBus, Policy, UowFactory
from store_service.domain import commands
from store_service.service_layer import handlers

COMMAND_HANDLERS: dict[type, CommandHandler] = {
    commands.RegisterStore: handlers.register_store,  # type: ignore[dict-item]
    commands.SetMenuItem: handlers.set_menu_item,  # type: ignore[dict-item]
}

# Policies on consumed events arrive with the order lifecycle.
POLICIES: dict[type, Policy] = {}


def create_bus(uow_factory: UowFactory) -> MessageBus:
    return MessageBus(uow_factory, commands=COMMAND_HANDLERS, policies=POLICIES)
