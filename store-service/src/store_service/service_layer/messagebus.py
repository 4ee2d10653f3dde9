"""Routing of the Kitchen context: which handler takes each command and event."""

from collections.abc import Callable
from datetime import timedelta
from functools import partial

from service_kit.messagebus import (
    CommandHandler,
    InternalHandler,
    MessageBus,
    Policy,
    UowFactory,
)
from shared_events.contract import (
    DeliveryConfirmed,
    DeliveryReturned,
    OrderCancelled,
    OrderPlaced,
    Payload,
)
from store_service.domain import commands
from store_service.domain.store_order import AcceptanceDeadlineSet
from store_service.service_layer import handlers, policies
from store_service.service_layer.unit_of_work import UnitOfWork
from store_service.settings import DEFAULT_ACCEPTANCE_WINDOW

COMMAND_HANDLERS: dict[type, CommandHandler[UnitOfWork]] = {
    commands.RegisterStore: handlers.register_store,
    commands.SetMenuItem: handlers.set_menu_item,
    commands.DecideOrder: handlers.decide_order,
    commands.StartCooking: handlers.start_cooking,
    commands.FinishCooking: handlers.finish_cooking,
}


def create_bus(
    uow_factory: UowFactory[UnitOfWork],
    *,
    acceptance_window: timedelta = DEFAULT_ACCEPTANCE_WINDOW,
    wake_timer: Callable[[], None] | None = None,
) -> MessageBus[UnitOfWork]:
    """`wake_timer` is the in-process acceptance timer's wake(); without it (or in the
    worker process, where no timer runs) the timer finds new tickets at its next look."""
    # Registration takes the window setting, bound here, once.
    consumed: dict[type[Payload], Policy[UnitOfWork]] = {
        OrderPlaced: partial(policies.register_store_order, acceptance_window=acceptance_window),
        OrderCancelled: policies.cancel_store_order,
        DeliveryConfirmed: policies.take_stock_on_delivery,
        DeliveryReturned: policies.give_back_stock_on_return,
    }
    internal: dict[type, list[InternalHandler[UnitOfWork]]] = {}
    if wake_timer is not None:
        internal[AcceptanceDeadlineSet] = [policies.wake_timer(wake_timer)]
    return MessageBus(uow_factory, commands=COMMAND_HANDLERS, policies=consumed, internal=internal)
