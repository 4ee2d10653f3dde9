"""Tables of the Customer context's read model (the domain classes stay unmapped)."""

from sqlalchemy import Column, Index, MetaData, Table, UniqueConstraint
from sqlalchemy.types import JSON, Integer, String, Text

from service_kit.mapping import version_column
from service_kit.tables import EVENT_TYPE, TRACEPARENT, UUID, belongs_to, key, optional, references
from service_kit.telemetry import current_traceparent
from service_kit.types import UtcDateTime

metadata = MetaData()

STATUS = String(16)  # an order status's name, as the events carry it

# One row per order. Every column but the id and status may be filled late,
# because any event of the order may be the first to arrive.
order_status = Table(
    "order_status",
    metadata,
    key("order_id"),
    *references("customer_id", "store_id"),
    Column("status", STATUS, nullable=False),
    Column("total_amount", Integer, nullable=True),
    Column("items", JSON, nullable=True),
    Column("placed_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("rejected_by", String(16), nullable=True),
    version_column(),
    # "My orders", newest first.
    Index("ix_order_status_customer_placed", "customer_id", "placed_at"),
)

# One entry per status the order reached, naming the event that set it.
order_timeline = Table(
    "order_timeline",
    metadata,
    belongs_to(order_status.c.order_id, primary_key=True),
    key("status", STATUS),
    Column("at", UtcDateTime, nullable=False),
    Column("event_type", EVENT_TYPE, nullable=False),
    Column("event_id", UUID, nullable=False),
)

# The notification log: one message per order and status, decided with the status
# change and sent later by the dispatcher (PENDING -> SENT).
notifications = Table(
    "notifications",
    metadata,
    key("notification_id", UUID),
    belongs_to(order_status.c.order_id, nullable=False),
    *references("customer_id"),
    Column("status", STATUS, nullable=False),
    Column("message", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    *optional(UtcDateTime, "sent_at", "next_attempt_at"),
    # The trace of the event that decided the message (filled at insert, inside the
    # policy's span), so its dispatch joins the order's trace.
    Column("traceparent", TRACEPARENT, nullable=True, default=current_traceparent),
    # Whatever is redelivered or replayed, never a second message for one status.
    UniqueConstraint("order_id", "status", name="uq_notifications_order_status"),
    # The customer's list, and the dispatcher's poll of what is still to send.
    Index("ix_notifications_customer_created", "customer_id", "created_at"),
    Index("ix_notifications_state_created", "state", "created_at"),
)

# Personal data, apart from the read model: only the dispatcher reads it.
order_contact = Table(
    "order_contact",
    metadata,
    key("order_id"),
    Column("phone", Text, nullable=False),
)
