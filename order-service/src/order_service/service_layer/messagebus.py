"""Routing of the Ordering context: which handler takes each command and event."""

from collections.abc import Callable
from functools import partial

from order_service.adapters.payment import PaymentGateway
from order_service.domain import commands
from order_service.domain.model import RefundDue
from order_service.service_layer import handlers
from service_kit.messagebus import CommandHandler, MessageBus, Policy, UowFactory
from shared_events.contract import CookStarted, MenuItemChanged, OrderAccepted, OrderRejected


def create_bus(
    uow_factory: UowFactory,
    gateway: PaymentGateway,
    wake_refunds: Callable[[], None] | None = None,
) -> MessageBus:
    """`wake_refunds` is the in-process refund dispatcher's wake(); without it (or in
    the worker process, where no dispatcher runs) refunds wait for its next poll."""
    # Handlers take their extra dependencies (the gateway) bound here, once.
    command_handlers: dict[type, CommandHandler] = {
        commands.PlaceOrder: partial(handlers.place_order, gateway=gateway),  # type: ignore[dict-item]
        commands.CancelOrder: handlers.cancel_order,  # type: ignore[dict-item]
    }
    policies: dict[type, Policy] = {
        MenuItemChanged: handlers.keep_menu_replica,  # type: ignore[dict-item]
        OrderAccepted: handlers.order_accepted,  # type: ignore[dict-item]
        OrderRejected: handlers.order_rejected,  # type: ignore[dict-item]
        CookStarted: handlers.cook_started,  # type: ignore[dict-item]
    }
    internal: dict[type, list[Policy]] = {}
    if wake_refunds is not None:
        internal[RefundDue] = [handlers.wake_refunds(wake_refunds)]  # type: ignore[list-item]
    return MessageBus(uow_factory, commands=command_handlers, policies=policies, internal=internal)
