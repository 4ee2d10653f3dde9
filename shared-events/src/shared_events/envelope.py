"""The JSON envelope every message on Kafka carries, and its (de)serialisation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared_events.contract import Payload
from shared_events.errors import ContractError, InvalidEvent, UnknownEventType
from shared_events.registry import model_for

__all__ = [
    "ContractError",
    "Envelope",
    "InvalidEvent",
    "UnknownEventType",
    "decode",
    "encode",
    "wrap",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    event_version: int = Field(ge=1)
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    aggregate_id: str
    correlation_id: str
    causation_id: str | None = None
    payload: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a UTC offset")
        return value.astimezone(UTC)

    def event(self) -> Payload:
        """The typed payload; raises ContractError when it breaks its schema."""
        model = model_for(self.event_type, self.event_version)
        try:
            return model.model_validate(self.payload)
        except ValidationError as exc:
            raise InvalidEvent(
                f"{self.event_type} v{self.event_version} payload is invalid: {_errors(exc)}"
            ) from exc


def wrap(
    event: Payload,
    *,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Put a payload in a new envelope; a new story starts its own correlation id."""
    event_id = uuid.uuid4()
    return Envelope(
        event_id=event_id,
        event_type=event.event_type,
        event_version=event.event_version,
        occurred_at=occurred_at or utcnow(),
        producer=producer,
        aggregate_id=event.aggregate_id,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        payload=event.model_dump(mode="json"),
    )


def encode(envelope: Envelope) -> bytes:
    """Serialise after checking the payload against its registered schema."""
    envelope.event()
    return envelope.model_dump_json().encode()


def decode(raw: bytes | str | None) -> tuple[Envelope, Payload]:
    """Parse a message; raises a ContractError saying exactly what is wrong."""
    if raw is None:
        raise InvalidEvent("message has no value")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidEvent("message is not a JSON object")
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(f"envelope is invalid: {_errors(exc)}") from exc
    return envelope, envelope.event()


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )
