"""Routing of the Ordering context: which handler takes each command and event."""

from functools import partial

from order_service.adapters.payment import PaymentGateway
from order_service.domain import commands
from order_service.service_layer import handlers
from shared_events.contract import MenuItemChanged
from shared_events.messagebus import CommandHandler, MessageBus, Policy, UowFactory


def create_bus(uow_factory: UowFactory, gateway: PaymentGateway) -> MessageBus:
    # Handlers take their extra dependencies (the gateway) bound here, once.
    command_handlers: dict[type, CommandHandler] = {
        commands.PlaceOrder: partial(handlers.place_order, gateway=gateway),  # type: ignore[dict-item]
    }
    policies: dict[type, Policy] = {
        MenuItemChanged: handlers.keep_menu_replica,  # type: ignore[dict-item]
    }
    return MessageBus(uow_factory, commands=command_handlers, policies=policies)
