"""The compatibility guard: a change that breaks a committed schema fails here."""

import json
from typing import ClassVar

import pytest
from pydantic import Field

from shared_events import schemas
from shared_events.contract import EVENT_MODELS, Payload
from shared_events.registry import model_for

COMMITTED = sorted(schemas.SCHEMA_DIR.glob("*.json"))


def committed(name: str) -> dict:
    return json.loads((schemas.SCHEMA_DIR / name).read_text())


def test_every_event_on_the_board_has_a_committed_schema():
    on_board = {
        "OrderPlaced",
        "OrderCancelled",
        "OrderAccepted",
        "OrderRejected",
        "CookStarted",
        "CookFinished",
        "CookingCancelled",
        "MenuItemChanged",
        "FoodPicked",
        "DeliveryConfirmed",
        "DeliveryCancelled",
        "DeliveryReturned",
    }
    assert {m.event_type for m in EVENT_MODELS} == on_board
    assert {schemas.file_name(m) for m in EVENT_MODELS} <= {p.name for p in COMMITTED}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_the_current_model_does_not_break_its_committed_schema(path):
    old = json.loads(path.read_text())
    model = model_for(old["x-event-type"], old["x-event-version"])
    assert model.topic == old["x-topic"], "an event may not move to another topic"
    assert schemas.breaking_changes(old, schemas.schema_of(model)) == []


# The guard itself must catch each kind of break. These models are what a
# careless edit of OrderPlaced / CookStarted would look like.


class CookStartedFieldRenamed(Payload):
    event_type: ClassVar[str] = "CookStarted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = "fooddelivery.store.events"
    order_id: str
    shop_id: str


class CookStartedTypeChanged(Payload):
    event_type: ClassVar[str] = "CookStarted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = "fooddelivery.store.events"
    order_id: str
    store_id: int


class CookStartedNewRequired(Payload):
    event_type: ClassVar[str] = "CookStarted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = "fooddelivery.store.events"
    order_id: str = Field(min_length=1, max_length=64)
    store_id: str = Field(min_length=1, max_length=64)
    chef: str


class CookStartedNewOptional(Payload):
    event_type: ClassVar[str] = "CookStarted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = "fooddelivery.store.events"
    order_id: str = Field(min_length=1, max_length=64)
    store_id: str = Field(min_length=1, max_length=64)
    chef: str | None = None


def breaks(model: type[Payload]) -> list[str]:
    return schemas.breaking_changes(committed("CookStarted.v1.json"), schemas.schema_of(model))


def test_a_renamed_field_is_refused():
    assert any("store_id: field removed or renamed" in p for p in breaks(CookStartedFieldRenamed))


def test_a_changed_type_is_refused():
    assert any("store_id" in p for p in breaks(CookStartedTypeChanged))


def test_a_new_required_field_is_refused():
    assert any("chef: new required field" in p for p in breaks(CookStartedNewRequired))


def test_a_new_optional_field_is_accepted():
    assert breaks(CookStartedNewOptional) == []


def test_a_change_inside_a_nested_model_is_refused():
    old = committed("OrderPlaced.v1.json")
    new = json.loads(json.dumps(old).replace('"minimum": 1,\n', ""))
    new["$defs"]["OrderLine"]["properties"]["quantity"] = {"type": "number", "title": "Quantity"}
    assert any("quantity" in p for p in schemas.breaking_changes(old, new))


def test_rejected_by_is_an_optional_addition_within_version_1():
    """OrderRejected as first published (no rejected_by) still holds for today's model,
    and an event from before the field reads as None."""
    first_published = committed("OrderRejected.v1.json")
    del first_published["properties"]["rejected_by"]
    model = model_for("OrderRejected", 1)

    assert "rejected_by" not in committed("OrderRejected.v1.json").get("required", [])
    assert schemas.breaking_changes(first_published, schemas.schema_of(model)) == []
    old_event = model.model_validate({"order_id": "o1", "store_id": "s1", "reason": "sold out"})
    assert old_event.rejected_by is None  # type: ignore[attr-defined]


def test_rejected_by_takes_only_owner_or_timeout():
    model = model_for("OrderRejected", 1)
    body = {"order_id": "o1", "store_id": "s1", "reason": "late"}
    assert model.model_validate({**body, "rejected_by": "timeout"}).rejected_by == "timeout"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        model.model_validate({**body, "rejected_by": "rider"})
