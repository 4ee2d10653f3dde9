"""EventProcessor: applied, skipped, or parked with the error; it never raises."""

import json

import pytest

from service_kit.consumer import EventProcessor, RawMessage
from shared_events import encode, wrap
from shared_events.contract import CookStarted, OrderAccepted
from shared_events.registry import model_for
from testkit.samples import order_placed


class FakeBus:
    """The bus's consumer side (EventDispatch): a policy per event type, by name."""

    def __init__(self, policies) -> None:
        self._policies = {model_for(name, 1): policy for name, policy in policies.items()}

    def handles(self, event) -> bool:
        return type(event) in self._policies

    async def handle_event(self, envelope, event) -> bool:
        await self._policies[type(event)](envelope, event)
        return True


class RecordingDeadLetters:
    """Stands in for the broker side of DeadLetterPublisher."""

    topic = "fooddelivery.test.dlq"

    def __init__(self) -> None:
        self.parked: list[tuple[RawMessage, BaseException, int]] = []

    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None:
        self.parked.append((message, error, attempts))


def message(value: bytes, offset: int = 7) -> RawMessage:
    return RawMessage("fooddelivery.order.events", 1, offset, b"k", value)


@pytest.fixture
def dead_letters() -> RecordingDeadLetters:
    return RecordingDeadLetters()


def processor(handlers, dead_letters, attempts=3) -> EventProcessor:
    return EventProcessor(
        "test",
        FakeBus(handlers),
        dead_letters,
        attempts=attempts,
        backoff_multiplier=0.001,
        backoff_max=0.01,
    )


async def test_an_event_reaches_its_handler(dead_letters):
    seen = []

    async def on_placed(envelope, event):
        seen.append(event.order_id)

    event = order_placed()
    outcome = await processor({"OrderPlaced": on_placed}, dead_letters).process(
        message(encode(wrap(event, producer="order-service")))
    )

    assert outcome.status == "applied"
    assert seen == [event.order_id]
    assert dead_letters.parked == []


async def test_an_event_this_consumer_does_not_react_to_is_skipped(dead_letters):
    value = encode(wrap(CookStarted(order_id="o1", store_id="s1"), producer="store-service"))
    outcome = await processor({"OrderPlaced": None}, dead_letters).process(message(value))
    assert outcome.status == "skipped"
    assert dead_letters.parked == []


async def test_a_transient_failure_is_retried_until_it_succeeds(dead_letters):
    calls = []

    async def flaky(envelope, event):
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("database restarting")

    value = encode(wrap(OrderAccepted(order_id="o1", store_id="s1"), producer="store-service"))
    outcome = await processor({"OrderAccepted": flaky}, dead_letters, attempts=3).process(
        message(value)
    )

    assert outcome.status == "applied"
    assert len(calls) == 3


async def test_a_handler_that_keeps_failing_is_parked_after_its_attempts(dead_letters):
    calls = []

    async def broken(envelope, event):
        calls.append(1)
        raise RuntimeError("bug in the policy")

    value = encode(wrap(OrderAccepted(order_id="o1", store_id="s1"), producer="store-service"))
    outcome = await processor({"OrderAccepted": broken}, dead_letters, attempts=4).process(
        message(value, offset=42)
    )

    assert outcome.status == "dead-lettered"
    assert len(calls) == 4
    [(parked, error, attempts)] = dead_letters.parked
    assert parked.value == value and parked.offset == 42
    assert isinstance(error, RuntimeError) and attempts == 4


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe not even utf-8",
        b"[1, 2, 3]",
        json.dumps({"event_type": "OrderPlaced"}).encode(),
        None,
    ],
    ids=["bytes", "not-an-object", "no-envelope", "tombstone"],
)
async def test_a_message_that_breaks_the_contract_is_parked_at_once(dead_letters, value):
    outcome = await processor({"OrderPlaced": None}, dead_letters).process(message(value))
    assert outcome.status == "dead-lettered"
    assert len(dead_letters.parked) == 1
    assert dead_letters.parked[0][2] == 1


async def test_a_parked_database_error_keeps_no_bound_parameters(dead_letters):
    async def leaky(envelope, event):
        raise RuntimeError(
            "(IntegrityError) UNIQUE failed [SQL: INSERT INTO contact VALUES (?)]\n"
            "[parameters: ('010-1234-5678',)]"
        )

    value = encode(wrap(OrderAccepted(order_id="o1", store_id="s1"), producer="store-service"))
    outcome = await processor({"OrderAccepted": leaky}, dead_letters, attempts=1).process(
        message(value)
    )
    assert outcome.status == "dead-lettered"
    assert "010-1234-5678" not in outcome.error and "INSERT" not in outcome.error
    assert "UNIQUE failed" in outcome.error
