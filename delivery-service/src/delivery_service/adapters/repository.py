"""Repository of the Delivery aggregate, on Core (service_kit.repository)."""

from __future__ import annotations

from delivery_service.adapters.orm import deliveries
from delivery_service.domain.model import Delivery
from service_kit.repository import RowRepository


class DeliveryRepository(RowRepository[Delivery]):
    entity = Delivery  # by order id
    table = deliveries
