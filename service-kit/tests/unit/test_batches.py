"""A batch of consumed events: one transaction with its inbox rows; a type the consumer
does not handle skipped from its header, undecoded; a failing event neither loses nor
doubles the others (the batch goes one by one, the failing event is parked)."""

from prometheus_client import REGISTRY

from service_kit.consumer import EventProcessor, RawMessage
from service_kit.inbox import MemoryInbox
from service_kit.kernel import Aggregate
from service_kit.messagebus import MessageBus
from service_kit.outbox import message_headers
from service_kit.uow import FakeUnitOfWork, Repository
from shared_events import encode, wrap
from shared_events.contract import CookStarted, OrderAccepted


class Ledger:
    """What committed, shared by every unit of work, like the database."""

    def __init__(self) -> None:
        self.inbox = MemoryInbox()
        self.applied: list[str] = []  # order ids, in commit order
        self.commits = 0


class LedgerUnitOfWork(FakeUnitOfWork):
    def __init__(self, ledger: Ledger) -> None:
        super().__init__("test")
        self.ledger = ledger
        self.inbox = ledger.inbox
        self.effects: list[str] = []

    async def commit(self) -> None:
        await super().commit()
        self.ledger.applied += self.effects
        self.ledger.commits += 1
        self.effects = []

    async def rollback(self) -> None:
        await super().rollback()
        self.effects = []


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.parked: list[RawMessage] = []

    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None:
        self.parked.append(message)


def setup(fail_on: str | None = None) -> tuple[EventProcessor, Ledger, RecordingDeadLetters]:
    ledger = Ledger()

    async def accepted(event: OrderAccepted, meta, uow: LedgerUnitOfWork) -> None:
        if event.order_id == fail_on:
            raise RuntimeError("this one always fails")
        uow.effects.append(event.order_id)

    bus = MessageBus(
        lambda trace: LedgerUnitOfWork(ledger), commands={}, policies={OrderAccepted: accepted}
    )
    dead = RecordingDeadLetters()
    processor = EventProcessor(
        "test", bus, dead, attempts=2, backoff_multiplier=0.001, backoff_max=0.01
    )
    return processor, ledger, dead


def msg(event, offset: int, value: bytes | None = None) -> RawMessage:
    envelope = wrap(event, producer="store-service")
    return RawMessage(
        "fooddelivery.store.events",
        0,
        offset,
        event.order_id.encode(),
        encode(envelope) if value is None else value,
        tuple(message_headers(event.event_type, event.event_version)),
    )


def accepted(order_id: str) -> OrderAccepted:
    return OrderAccepted(order_id=order_id, store_id="s1")


async def test_a_batch_commits_once_and_skips_unhandled_types_undecoded():
    processor, ledger, dead = setup()
    messages = [
        msg(accepted("o1"), 1),
        # Its header says CookStarted, which this consumer does not handle: never
        # decoded, so even a body that is not JSON is simply skipped.
        msg(CookStarted(order_id="o2", store_id="s1"), 2, value=b"not json"),
        msg(accepted("o3"), 3),
        msg(accepted("o4"), 4),
    ]
    outcomes = await processor.process_batch(messages)
    assert [o.status for o in outcomes] == ["applied", "skipped", "applied", "applied"]
    assert ledger.applied == ["o1", "o3", "o4"]
    assert ledger.commits == 1
    assert dead.parked == []


def handled(event_type: str) -> float:
    return (
        REGISTRY.get_sample_value("fooddelivery_events_handled_total", {"event_type": event_type})
        or 0.0
    )


async def test_each_event_of_a_batch_is_counted_handled():
    processor, _, _ = setup()
    before = handled("OrderAccepted")
    first = msg(accepted("o1"), 1)
    again = RawMessage(first.topic, 0, 2, first.key, first.value, first.headers)
    await processor.process_batch([first, again, msg(accepted("o2"), 3)])
    assert handled("OrderAccepted") == before + 3  # a duplicate is handled too


async def test_a_redelivery_in_or_after_a_batch_is_applied_once():
    processor, ledger, _ = setup()
    first = msg(accepted("o1"), 1)
    again = RawMessage(first.topic, 0, 2, first.key, first.value, first.headers)
    outcomes = await processor.process_batch([first, again, msg(accepted("o2"), 3)])
    assert [o.status for o in outcomes] == ["applied", "duplicate", "applied"]
    outcomes = await processor.process_batch([again, msg(accepted("o3"), 4)])
    assert [o.status for o in outcomes] == ["duplicate", "applied"]
    assert ledger.applied == ["o1", "o2", "o3"]


async def test_a_failing_event_neither_loses_nor_doubles_the_others():
    processor, ledger, dead = setup(fail_on="o2")
    messages = [msg(accepted(f"o{i}"), i) for i in (1, 2, 3)]
    outcomes = await processor.process_batch(messages)
    assert [o.status for o in outcomes] == ["applied", "dead-lettered", "applied"]
    assert ledger.applied == ["o1", "o3"]  # the failed batch committed nothing
    assert [m.offset for m in dead.parked] == [2]


class Kitchen(Aggregate):
    pass


class KitchenRepository(Repository):
    pass


class KitchenUnitOfWork(LedgerUnitOfWork):
    kitchens: KitchenRepository

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.kitchens = KitchenRepository()

    def repositories(self):
        return [self.kitchens]


async def test_each_follow_up_in_a_batch_carries_its_own_cause():
    ledger = Ledger()
    uows: list[KitchenUnitOfWork] = []

    def factory(trace):
        uows.append(KitchenUnitOfWork(ledger))
        return uows[-1]

    async def cook(event: OrderAccepted, meta, uow: KitchenUnitOfWork) -> None:
        kitchen = uow.kitchens._track(Kitchen())
        kitchen.record(CookStarted(order_id=event.order_id, store_id=event.store_id))

    bus = MessageBus(factory, commands={}, policies={OrderAccepted: cook})
    envelopes = [wrap(accepted(f"o{i}"), producer="store-service") for i in (1, 2)]
    assert await bus.handle_batch([(e, e.event()) for e in envelopes]) == [True, True]
    [uow] = uows  # one unit of work, one commit, for the batch
    assert ledger.commits == 1
    assert [(str(e.causation_id), e.aggregate_id) for e in uow.published] == [
        (str(envelopes[0].event_id), "o1"),
        (str(envelopes[1].event_id), "o2"),
    ]


async def test_what_is_parked_is_parked_in_offset_order():
    processor, ledger, dead = setup(fail_on="o1")
    messages = [msg(accepted("o1"), 1), msg(accepted("o2"), 2)]
    poison = RawMessage("fooddelivery.store.events", 0, 3, b"o3", b"{oops", messages[0].headers)
    outcomes = await processor.process_batch([*messages, poison, msg(accepted("o4"), 4)])
    assert [o.status for o in outcomes] == ["dead-lettered", "applied", "dead-lettered", "applied"]
    assert [m.offset for m in dead.parked] == [1, 3]
    assert ledger.applied == ["o2", "o4"]


async def test_a_batch_preloads_once_what_its_new_events_need():
    ledger = Ledger()
    preloaded: list[list[str]] = []

    async def accept(event: OrderAccepted, meta, uow: LedgerUnitOfWork) -> None:
        uow.effects.append(event.order_id)

    async def preload(uow: LedgerUnitOfWork, events) -> None:
        preloaded.append([e.order_id for e in events])

    bus = MessageBus(
        lambda trace: LedgerUnitOfWork(ledger),
        commands={},
        policies={OrderAccepted: accept},
        preload=preload,
    )
    old = wrap(accepted("o1"), producer="store-service")
    assert await bus.handle_batch([(old, old.event())]) == [True]
    new = [wrap(accepted(f"o{i}"), producer="store-service") for i in (2, 3)]
    assert await bus.handle_batch([(e, e.event()) for e in [old, *new]]) == [False, True, True]
    # What the inbox had seen is not fetched again.
    assert preloaded == [["o1"], ["o2", "o3"]]
    assert ledger.applied == ["o1", "o2", "o3"]
