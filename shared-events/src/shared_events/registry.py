"""event_type (+ version) -> payload model and topic."""

from __future__ import annotations

from shared_events.contract import EVENT_MODELS, Payload
from shared_events.errors import UnknownEventType

_BY_KEY: dict[tuple[str, int], type[Payload]] = {
    (m.event_type, m.event_version): m for m in EVENT_MODELS
}
if len(_BY_KEY) != len(EVENT_MODELS):  # pragma: no cover - guards the table above
    raise RuntimeError("two payload models claim the same event type and version")


def model_for(event_type: str, event_version: int) -> type[Payload]:
    try:
        return _BY_KEY[(event_type, event_version)]
    except KeyError:
        known = sorted({t for t, _ in _BY_KEY})
        raise UnknownEventType(
            f"unknown event type {event_type!r} version {event_version}; known types: {known}"
        ) from None


def topic_for(event_type: str) -> str:
    for (name, _), model in _BY_KEY.items():
        if name == event_type:
            return model.topic
    model_for(event_type, 1)  # raises UnknownEventType
    raise AssertionError  # pragma: no cover


def all_models() -> list[type[Payload]]:
    return list(_BY_KEY.values())
