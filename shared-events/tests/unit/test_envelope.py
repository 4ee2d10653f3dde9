import json
from datetime import UTC, datetime

import pytest

from shared_events import InvalidEvent, UnknownEventType, decode, encode, wrap
from shared_events.contract import MenuItemChanged
from shared_events.registry import topic_for
from shared_events.topics import ORDER_EVENTS, STORE_EVENTS
from testkit.samples import order_placed


def test_an_event_round_trips_through_its_envelope():
    event = order_placed()
    envelope = wrap(event, producer="order-service", correlation_id="corr-1")

    decoded, payload = decode(encode(envelope))

    assert payload == event
    assert decoded.event_type == "OrderPlaced" and decoded.event_version == 1
    assert decoded.aggregate_id == event.order_id
    assert decoded.correlation_id == "corr-1"
    assert decoded.occurred_at.tzinfo is not None


def test_a_new_story_correlates_to_its_first_event():
    envelope = wrap(order_placed(), producer="order-service")
    assert envelope.correlation_id == str(envelope.event_id)
    assert envelope.causation_id is None


def test_menu_events_are_keyed_by_store_and_item():
    event = MenuItemChanged(
        store_id="s1",
        menu_item_id="m1",
        name="Bibimbap",
        price=9000,
        stock=3,
        available=True,
        revision=1,
    )
    assert wrap(event, producer="store-service").aggregate_id == "s1/m1"
    assert topic_for("MenuItemChanged") == STORE_EVENTS
    assert topic_for("OrderPlaced") == ORDER_EVENTS


def raw(**overrides) -> bytes:
    data = json.loads(encode(wrap(order_placed(), producer="order-service")))
    data.update(overrides)
    return json.dumps(data).encode()


def test_malformed_json_is_refused_clearly():
    with pytest.raises(InvalidEvent, match="not JSON"):
        decode(b"{not json")


def test_an_unknown_event_type_is_refused_naming_it():
    with pytest.raises(UnknownEventType, match="'PizzaThrown'"):
        decode(raw(event_type="PizzaThrown"))


def test_an_unknown_version_is_refused():
    with pytest.raises(UnknownEventType, match="version 7"):
        decode(raw(event_version=7))


def test_a_payload_that_breaks_its_schema_is_refused_naming_the_field():
    data = json.loads(raw())
    data["payload"]["total_amount"] = "a lot"
    with pytest.raises(InvalidEvent, match="total_amount"):
        decode(json.dumps(data).encode())


def test_the_error_never_echoes_personal_data():
    data = json.loads(raw())
    data["payload"]["phone"] = 1234  # wrong type, and the value must not be echoed
    data["payload"]["delivery_address"]["region"] = ""
    with pytest.raises(InvalidEvent) as caught:
        decode(json.dumps(data).encode())
    assert "12 Teheran-ro" not in str(caught.value) and "1234" not in str(caught.value)


def test_a_naive_timestamp_is_refused():
    with pytest.raises(InvalidEvent, match="occurred_at"):
        decode(raw(occurred_at=datetime(2026, 1, 1).isoformat()))


def test_encode_refuses_an_invalid_payload():
    envelope = wrap(order_placed(), producer="order-service").model_copy(
        update={"payload": {"order_id": "x"}}
    )
    with pytest.raises(InvalidEvent):
        encode(envelope)


def test_a_tolerant_reader_ignores_fields_a_newer_producer_added():
    data = json.loads(raw())
    data["payload"]["loyalty_points"] = 12
    data["schema_hint"] = "v1+"
    _, payload = decode(json.dumps(data).encode())
    assert payload.total_amount == 18000


def test_occurred_at_is_utc():
    envelope = wrap(order_placed(), producer="order-service")
    assert envelope.occurred_at.utcoffset() == UTC.utcoffset(None)
