"""JSON Schema of every published event, and the compatibility guard.

    python -m shared_events.schemas write    # (re)write shared-events/schemas/*.json

A committed schema is a promise to every consumer. `breaking_changes(old, new)`
lists what a model change would break: a field removed or renamed, a type
changed, a new required field. Additive optional fields are fine; anything else
needs a new `event_version` beside the old one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared_events.contract import EVENT_MODELS, Payload

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def file_name(model: type[Payload]) -> str:
    return f"{model.event_type}.v{model.event_version}.json"


def schema_of(model: type[Payload]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"fooddelivery/{model.event_type}/v{model.event_version}"
    schema["x-event-type"] = model.event_type
    schema["x-event-version"] = model.event_version
    schema["x-topic"] = model.topic
    return schema


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in EVENT_MODELS:
        path = directory / file_name(model)
        path.write_text(json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def breaking_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """What in `new` breaks readers or writers of `old` (both full JSON Schemas)."""
    return _compare(
        _inline(old, old.get("$defs", {})),
        _inline(new, new.get("$defs", {})),
        where or old.get("title", "payload"),
    )


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace every $ref by the definition it points to, so nesting compares plainly."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_DESCRIPTIVE = {"title", "description", "examples", "$id", "default"}


def _compare(old: Any, new: Any, where: str) -> list[str]:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [f"{where}: changed from {old!r} to {new!r}"]
    problems: list[str] = []
    if "properties" in old or "properties" in new:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in old_props:
            if name not in new_props:
                problems.append(f"{where}.{name}: field removed or renamed")
            else:
                problems += _compare(old_props[name], new_props[name], f"{where}.{name}")
        newly_required = set(new.get("required", [])) - set(old.get("required", []))
        for name in sorted(newly_required):
            problems.append(f"{where}.{name}: new required field")
        no_longer_required = set(old.get("required", [])) - set(new.get("required", []))
        for name in sorted(no_longer_required & set(new_props)):
            problems.append(f"{where}.{name}: no longer required (old readers need it)")
    for key in sorted((set(old) | set(new)) - {"properties", "required"} - _DESCRIPTIVE):
        if key.startswith("x-"):
            continue
        if key not in new or key not in old:
            problems.append(f"{where}: '{key}' {'removed' if key not in new else 'added'}")
        else:
            problems += _compare(old[key], new[key], f"{where}[{key}]")
    return problems


if __name__ == "__main__":
    if sys.argv[1:] != ["write"]:
        sys.exit("usage: python -m shared_events.schemas write")
    for path in write():
        print(path)
