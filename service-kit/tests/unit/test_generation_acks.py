"""A message fetched before a rebalance, and acked by Faust when it skips it, must
not become committable: only the copy fetched again in the new generation does."""

from dataclasses import dataclass, field
from typing import Any

from service_kit.faust_worker import _ack_current_generation_only


@dataclass
class Message:
    offset: int
    generation_id: int | None


@dataclass
class Consumer:
    """Faust's consumer as far as acks go: an ack makes a message's offset committable."""

    committable: list[int] = field(default_factory=list)

    def ack(self, message: Message) -> bool:
        self.committable.append(message.offset)
        return True


@dataclass
class App:
    consumer: Consumer
    consumer_generation_id: int


def guarded(generation: int) -> Any:
    app = App(Consumer(), consumer_generation_id=generation)
    _ack_current_generation_only(app)  # type: ignore[arg-type]  # a stand-in for faust.App
    return app


def test_an_old_generations_message_is_not_acked() -> None:
    app = guarded(generation=2)

    assert app.consumer.ack(Message(offset=7, generation_id=1)) is False
    assert app.consumer.committable == []


def test_after_a_rebalance_only_the_copy_fetched_again_is_acked() -> None:
    app = guarded(generation=2)
    assert app.consumer.ack(Message(offset=7, generation_id=2)) is True

    app.consumer_generation_id = 3  # a rebalance
    assert app.consumer.ack(Message(offset=8, generation_id=2)) is False
    assert app.consumer.ack(Message(offset=8, generation_id=3)) is True
    assert app.consumer.committable == [7, 8]


def test_a_message_without_a_generation_is_acked() -> None:
    app = guarded(generation=2)

    assert app.consumer.ack(Message(offset=1, generation_id=None)) is True
    assert app.consumer.committable == [1]
