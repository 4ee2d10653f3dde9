"""Routing of the Ordering context: which handler takes each command and event."""

from collections.abc import Callable
from functools import partial

from order_service.adapters.payment import PaymentGateway
from order_service.domain import commands
from order_service.domain.model import RefundDue
from order_service.service_layer import handlers
from order_service.service_layer.unit_of_work import UnitOfWork
from service_kit.messagebus import (
    CommandHandler,
    MessageBus,
    Policy,
    UowFactory,
    waking,
)
from shared_events.contract import (
    CookStarted,
    MenuItemChanged,
    OrderAccepted,
    OrderRejected,
    Payload,
)


def create_bus(
    uow_factory: UowFactory[UnitOfWork],
    gateway: PaymentGateway,
    wake_refunds: Callable[[], None] | None = None,
) -> MessageBus[UnitOfWork]:
    """`wake_refunds` is the in-process refund dispatcher's wake(); without it (or in
    the worker process, where no dispatcher runs) refunds wait for its next poll."""
    # Handlers take their extra dependencies (the gateway) bound here, once.
    command_handlers: dict[type, CommandHandler[UnitOfWork]] = {
        commands.PlaceOrder: partial(handlers.place_order, gateway=gateway),
        commands.CancelOrder: handlers.cancel_order,
    }
    policies: dict[type[Payload], Policy[UnitOfWork]] = {
        MenuItemChanged: handlers.keep_menu_replica,
        OrderAccepted: handlers.order_accepted,
        OrderRejected: handlers.order_rejected,
        CookStarted: handlers.cook_started,
    }
    internal = waking(RefundDue, wake_refunds)
    return MessageBus(uow_factory, commands=command_handlers, policies=policies, internal=internal)
