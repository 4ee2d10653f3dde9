"""What a replay of the event topics counts and records (the rebuild reads them
with `service_kit.snapshot.TopicSnapshot`, which commits nothing).

What would be parked on the dead-letter topic is recorded instead (`RecordedProblems`):
the live worker parked it already, and a second copy would only confuse whoever
replays the dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass

from service_kit.consumer import Outcome, RawMessage
from service_kit.redaction import describe

ERROR_LIMIT = 300


@dataclass(frozen=True)
class Problem:
    """A message the live worker would have dead-lettered, and why."""

    topic: str
    partition: int
    offset: int
    error: str

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}  {self.error}"


class RecordedProblems:
    """The EventProcessor's dead-letter sink for a rebuild: records, publishes nothing."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.problems: list[Problem] = []

    async def park(self, message: RawMessage, error: BaseException, attempts: int) -> None:
        text = describe(error, where=False, limit=ERROR_LIMIT)
        self.problems.append(Problem(message.topic, message.partition, message.offset, text))


@dataclass
class Counts:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    problems: int = 0

    def add(self, outcome: Outcome) -> None:
        self.read += 1
        if outcome.status == "applied":
            self.applied += 1
        elif outcome.status == "duplicate":
            self.duplicates += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        else:
            self.problems += 1
