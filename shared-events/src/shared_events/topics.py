"""Kafka topic names: one topic per publishing context, one dead-letter topic per consumer."""

ORDER_EVENTS = "fooddelivery.order.events"
STORE_EVENTS = "fooddelivery.store.events"
DELIVERY_EVENTS = "fooddelivery.delivery.events"

EVENT_TOPICS: tuple[str, ...] = (ORDER_EVENTS, STORE_EVENTS, DELIVERY_EVENTS)

# Every consuming service parks the messages it cannot handle on its own topic.
CONSUMERS: tuple[str, ...] = (
    "order-service",
    "store-service",
    "delivery-service",
    "mypage-service",
)

PARTITIONS = 3


def dead_letter_topic(consumer: str) -> str:
    return f"fooddelivery.{consumer}.dlq"


ALL_TOPICS: tuple[str, ...] = EVENT_TOPICS + tuple(dead_letter_topic(c) for c in CONSUMERS)
