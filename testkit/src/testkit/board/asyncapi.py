"""`docs/asyncapi.yaml` (AsyncAPI 3.0) from the code's facts: every topic as a channel,
every event as a message (its envelope, payload JSON Schema, key and headers), and the
send/receive operations of each publisher and subscriber."""

from __future__ import annotations

import json
from typing import Any

import yaml

from service_kit.outbox import message_headers
from shared_events.contract import Payload
from shared_events.envelope import Envelope
from shared_events.schemas import schema_of
from shared_events.topics import PARTITIONS, dead_letter_topic
from testkit.board.facts import Facts, key_of

KAFKA_BINDING = "0.5.0"
OPERATOR = "fooddelivery-ops"  # reads and replays the dead letters (python -m fooddelivery_ops dlq)


def render_asyncapi(facts: Facts) -> str:
    schemas: dict[str, Any] = {"Envelope": _envelope_schema()}
    messages: dict[str, Any] = {}
    for event in facts.events:
        schemas[_id(event)] = _lift(schema_of(event), schemas)
        messages[_id(event)] = _message(event, facts.publisher(event.topic))
    messages["ParkedMessage"] = _parked_message()
    channels = {topic: _channel(facts, topic) for topic in facts.topics}
    for service in facts.services:
        if service.handles:
            channels[dead_letter_topic(service.name)] = _dead_letter_channel(service.name)
    document = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Food delivery events",
            "version": "1.0.0",
            "description": (
                "The events the food-delivery services publish on Kafka, generated from the "
                "code by `make board` (python -m testkit.board write). The board that "
                "explains them is docs/board.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The single-node broker that `make run` starts.",
            }
        },
        "channels": channels,
        "operations": _operations(facts),
        "components": {"schemas": _sorted(schemas), "messages": messages},
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _id(event: type[Payload]) -> str:
    return f"{event.event_type}.v{event.event_version}"


def _channel(facts: Facts, topic: str) -> dict[str, Any]:
    return {
        "address": topic,
        "description": f"Published by {facts.publisher(topic)}; keyed by the aggregate id.",
        "messages": {
            e.event_type: {"$ref": f"#/components/messages/{_id(e)}"}
            for e in facts.events_on(topic)
        },
        "bindings": {"kafka": {"partitions": PARTITIONS, "bindingVersion": KAFKA_BINDING}},
    }


def _dead_letter_channel(consumer: str) -> dict[str, Any]:
    return {
        "address": dead_letter_topic(consumer),
        "description": f"Messages {consumer} could not handle, parked with the error.",
        "messages": {"ParkedMessage": {"$ref": "#/components/messages/ParkedMessage"}},
        "bindings": {"kafka": {"partitions": PARTITIONS, "bindingVersion": KAFKA_BINDING}},
    }


def _operations(facts: Facts) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for topic in facts.topics:
        publisher = facts.publisher(topic)
        operations[f"{publisher}.send.{topic}"] = _operation(
            "send", topic, [e.event_type for e in facts.events_on(topic)], publisher
        )
    for service in facts.services:
        for topic in facts.topics:
            handled = [e.event_type for e in service.handles if e.topic == topic]
            if handled:
                operations[f"{service.name}.receive.{topic}"] = _operation(
                    "receive", topic, handled, service.name
                )
        if service.handles:
            dlq = dead_letter_topic(service.name)
            operations[f"{service.name}.send.{dlq}"] = _operation(
                "send", dlq, ["ParkedMessage"], service.name
            )
            operations[f"{OPERATOR}.receive.{dlq}"] = _operation(
                "receive", dlq, ["ParkedMessage"], OPERATOR
            )
    return operations


def _operation(action: str, topic: str, names: list[str], who: str) -> dict[str, Any]:
    pointer = f"#/channels/{topic}"
    return {
        "action": action,
        "channel": {"$ref": pointer},
        "summary": f"{who} {'publishes to' if action == 'send' else 'consumes'} {topic}.",
        "messages": [{"$ref": f"{pointer}/messages/{name}"} for name in names],
    }


def _message(event: type[Payload], publisher: str) -> dict[str, Any]:
    header_names = [name for name, _ in message_headers(event.event_type, event.event_version)]
    sample = dict(message_headers(event.event_type, event.event_version))
    return {
        "name": event.event_type,
        "title": f"{event.event_type} v{event.event_version}",
        "summary": f"Published by {publisher} on {event.topic}.",
        **({"description": " ".join(event.__doc__.split())} if event.__doc__ else {}),
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "required": header_names,
            "properties": {
                name: {"type": "string", "const": sample[name].decode()} for name in header_names
            },
        },
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": {"const": event.event_type},
                        "event_version": {"const": event.event_version},
                        "payload": {"$ref": f"#/components/schemas/{_id(event)}"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"The aggregate id: {key_of(event)}",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _parked_message() -> dict[str, Any]:
    return {
        "name": "ParkedMessage",
        "title": "A dead letter",
        "summary": (
            "The consumed message as it came (same key and value, its headers kept), with "
            "dlq.* headers that say where it came from and why it failed."
        ),
        "headers": {
            "type": "object",
            "properties": {
                f"dlq.{name}": {"type": "string"}
                for name in (
                    "consumer",
                    "origin_topic",
                    "origin_partition",
                    "origin_offset",
                    "error_type",
                    "error",
                    "attempts",
                    "failed_at",
                )
            },
        },
        "payload": {"description": "The original message value, byte for byte."},
    }


def _envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema(mode="serialization")
    schema["description"] = "Every message's value: the envelope around one event's payload."
    return _sorted(schema)


def _lift(schema: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """Move the schema's own `$defs` into components/schemas and point its refs there."""
    schema.pop("$id", None)  # a relative $id would re-base the refs below
    for name, definition in schema.pop("$defs", {}).items():
        into[name] = _sorted(definition)
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    return _sorted(json.loads(text))


def _sorted(value: Any) -> Any:
    """Keys in a stable order, so the document changes only when the code does."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
