"""Routing of the Kitchen context: which handler takes each command and event."""

from collections.abc import Callable
from datetime import timedelta
from functools import partial

from service_kit.messagebus import CommandHandler, MessageBus, Policy, UowFactory
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
from store_service.settings import DEFAULT_ACCEPTANCE_WINDOW

COMMAND_HANDLERS: dict[type, CommandHandler] = {
    commands.RegisterStore: handlers.register_store,  # type: ignore[dict-item]
    commands.SetMenuItem: handlers.set_menu_item,  # type: ignore[dict-item]
    commands.DecideOrder: handlers.decide_order,  # type: ignore[dict-item]
    commands.StartCooking: handlers.start_cooking,  # type: ignore[dict-item]
    commands.FinishCooking: handlers.finish_cooking,  # type: ignore[dict-item]
}


def policy_table(acceptance_window: timedelta) -> dict[type[Payload], Policy]:
    """Which policy takes each consumed event; registration needs the window setting."""
    return {
        OrderPlaced: partial(policies.register_store_order, acceptance_window=acceptance_window),
        OrderCancelled: policies.cancel_store_order,  # type: ignore[dict-item]
        DeliveryConfirmed: policies.take_stock_on_delivery,  # type: ignore[dict-item]
        DeliveryReturned: policies.give_back_stock_on_return,  # type: ignore[dict-item]
    }


def subscribed_topics() -> list[str]:
    """The worker listens to exactly the topics that carry the events above."""
    return sorted({model.topic for model in policy_table(DEFAULT_ACCEPTANCE_WINDOW)})


def create_bus(
    uow_factory: UowFactory,
    *,
    acceptance_window: timedelta = DEFAULT_ACCEPTANCE_WINDOW,
    wake_timer: Callable[[], None] | None = None,
) -> MessageBus:
    """`wake_timer` is the in-process acceptance timer's wake(); without it (or in the
    worker process, where no timer runs) the timer finds new tickets at its next look."""
    internal: dict[type, list[Policy]] = {}
    if wake_timer is not None:
        internal[AcceptanceDeadlineSet] = [policies.wake_timer(wake_timer)]  # type: ignore[list-item]
    return MessageBus(
        uow_factory,
        commands=COMMAND_HANDLERS,
        policies=policy_table(acceptance_window),
        internal=internal,
    )
