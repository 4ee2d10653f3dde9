"""The published event contract and the event plumbing every service shares."""

from shared_events.contract import EVENT_MODELS, Payload
from shared_events.envelope import (
    ContractError,
    Envelope,
    InvalidEvent,
    UnknownEventType,
    decode,
    encode,
    wrap,
)

__all__ = [
    "EVENT_MODELS",
    "ContractError",
    "Envelope",
    "InvalidEvent",
    "Payload",
    "UnknownEventType",
    "decode",
    "encode",
    "wrap",
]
