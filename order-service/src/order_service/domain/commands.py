"""What a customer asks of the Ordering context."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from order_service.domain.menu import RequestedItem
from order_service.domain.model import DeliveryAddress


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    store_id: str
    items: tuple[RequestedItem, ...]
    delivery_address: DeliveryAddress
    phone: str
    card_token: str
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """Identifies the request a client sent with its Idempotency-Key, so a replay
        can be told apart from the same key reused for something else. A hash, so
        neither the address nor the card token is stored a second time."""
        request = asdict(self)
        del request["idempotency_key"], request["customer_id"]
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    customer_id: str  # the acting customer; only the order's owner may cancel
