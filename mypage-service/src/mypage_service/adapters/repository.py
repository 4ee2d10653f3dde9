"""Repositories of the Customer context: the `order_status` read model and the
customers' contact details."""

from __future__ import annotations

from mypage_service.domain.model import OrderStatusView
from mypage_service.domain.notification import OrderContact
from service_kit.uow import SqlRepository


class OrderStatusRepository(SqlRepository[OrderStatusView]):
    entity = OrderStatusView  # by order id


class ContactRepository(SqlRepository[OrderContact]):
    entity = OrderContact  # by order id; raises no events
