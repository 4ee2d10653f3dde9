"""docs/board.md and docs/asyncapi.yaml are what the code generates (`make board`),
and the AsyncAPI document is valid AsyncAPI 3.0.

The AsyncAPI 3.0.0 JSON Schema is vendored beside this test (asyncapi-schema/, with
its Apache-2.0 licence): no package on PyPI ships it, and the test must run offline.
"""

from __future__ import annotations

import copy
import difflib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from shared_events.registry import all_models
from shared_events.schemas import SCHEMA_DIR, file_name
from testkit.board.generate import DOCS, generate

SCHEMA = Path(__file__).parent / "asyncapi-schema" / "3.0.0.json"


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return generate()


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # A registry without a retrieve function: a reference the vendored file does not
    # hold fails instead of being fetched (jsonschema's default would download it).
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft7Validator(schema, registry=registry)


def committed_asyncapi() -> dict[str, Any]:
    return yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["board.md", "asyncapi.yaml"])
def test_the_committed_file_is_what_the_code_generates(generated, name):
    path = DOCS / name
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated[path].splitlines(keepends=True),
            f"committed {name}",
            f"generated {name}",
        )
    )
    assert not diff, f"docs/{name} is stale; run `make board`:\n{diff[:4000]}"


def test_generating_twice_gives_the_same_text(generated):
    assert generate() == generated


def test_the_asyncapi_document_is_valid_asyncapi_3(validator):
    document = committed_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert errors == []


def test_the_validator_refuses_a_broken_document(validator):
    broken = copy.deepcopy(committed_asyncapi())
    operation = next(iter(broken["operations"].values()))
    operation["action"] = "broadcast"  # AsyncAPI 3.0 knows only send and receive
    assert not validator.is_valid(broken)


def test_every_event_is_a_message_with_its_committed_schema_key_and_headers():
    document = committed_asyncapi()
    components = document["components"]
    for model in all_models():
        message_id = f"{model.event_type}.v{model.event_version}"
        message = components["messages"][message_id]
        headers = message["headers"]["properties"]
        assert headers["event_type"]["const"] == model.event_type
        assert headers["event_version"]["const"] == str(model.event_version)
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        committed = json.loads((SCHEMA_DIR / file_name(model)).read_text(encoding="utf-8"))
        schema = components["schemas"][message_id]
        assert schema["properties"].keys() == committed["properties"].keys()
        assert schema.get("required") == committed.get("required")
        channel = document["channels"][model.topic]
        assert channel["messages"][model.event_type] == {
            "$ref": f"#/components/messages/{message_id}"
        }
