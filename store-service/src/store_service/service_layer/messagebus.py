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
from store_service.service_layer.unit_of_work import UnitOfWork

COMMAND_HANDLERS: dict[type, CommandHandler[UnitOfWork]] = {
    commands.RegisterStore: handlers.register_store,
    commands.SetMenuItem: handlers.set_menu_item,
    commands.DecideOrder: handlers.decide_order,
    commands.StartCooking: handlers.start_cooking,
    commands.FinishCooking: handlers.finish_cooking,
}

POLICIES: dict[type[Payload], Policy[UnitOfWork]] = {
    OrderPlaced: policies.register_store_order,
    OrderCancelled: policies.cancel_store_order,
    DeliveryConfirmed: policies.take_stock_on_delivery,
    DeliveryReturned: policies.give_back_stock_on_return,
}


def create_bus(uow_factory: UowFactory[UnitOfWork]) -> MessageBus[UnitOfWork]:
    return MessageBus(uow_factory, commands=COMMAND_HANDLERS, policies=POLICIES)
