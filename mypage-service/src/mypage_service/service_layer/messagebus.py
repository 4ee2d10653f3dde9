"""Routing of the Customer context: which policy takes each consumed event."""

from mypage_service.domain.status import STATUS_BY_EVENT
from mypage_service.service_layer import handlers
from mypage_service.service_layer.unit_of_work import UnitOfWork
from service_kit.messagebus import MessageBus, Policy, UowFactory
from shared_events.contract import Payload

# Every event of an order goes through the same projection; MenuItemChanged says
# nothing about an order and is not registered, so the consumer skips it.
POLICIES: dict[type[Payload], Policy[UnitOfWork]] = {
    event: handlers.project_order_event for event in STATUS_BY_EVENT
}


def create_bus(uow_factory: UowFactory[UnitOfWork]) -> MessageBus[UnitOfWork]:
    return MessageBus(uow_factory, commands={}, policies=POLICIES, preload=handlers.preload)
