"""Routing of the Delivery context: which handler takes each command and event."""

from delivery_service.domain import commands
from delivery_service.service_layer import handlers, policies
from delivery_service.service_layer.unit_of_work import UnitOfWork
from service_kit.messagebus import CommandHandler, MessageBus, Policy, UowFactory
from shared_events.contract import CookStarted, OrderCancelled, OrderPlaced, Payload

COMMAND_HANDLERS: dict[type, CommandHandler[UnitOfWork]] = {
    commands.PickFood: handlers.pick_food,
    commands.ConfirmDelivery: handlers.confirm_delivery,
    commands.ReturnDelivery: handlers.return_delivery,
}

POLICIES: dict[type[Payload], Policy[UnitOfWork]] = {
    OrderPlaced: policies.keep_delivery_address,
    CookStarted: policies.open_delivery,
    OrderCancelled: policies.cancel_delivery,
}


def create_bus(uow_factory: UowFactory[UnitOfWork]) -> MessageBus[UnitOfWork]:
    return MessageBus(uow_factory, commands=COMMAND_HANDLERS, policies=POLICIES)
