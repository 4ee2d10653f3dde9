"""Repository of the Delivery aggregate."""

from __future__ import annotations

from delivery_service.domain.model import Delivery
from service_kit.uow import SqlRepository


class DeliveryRepository(SqlRepository[Delivery]):
    entity = Delivery  # by order id
