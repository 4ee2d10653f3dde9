"""Dead letters: list what the consumers parked, and replay chosen ones after a fix.

    uv run python -m fooddelivery_ops dlq list [--service mypage-service] [--json]
    uv run python -m fooddelivery_ops dlq replay --service S --partition P --offset O [--dry-run]
    uv run python -m fooddelivery_ops dlq replay --service S --all [--dry-run]

(`--bootstrap` defaults to $KAFKA_BOOTSTRAP_SERVERS, else 127.0.0.1:9092.)

`list` reads every dead-letter topic (`fooddelivery.<service>.dlq`) from its
beginning to its end as of now and prints one row per parked message: where it
was parked, where it came from, its event type and the error. It never prints
a payload, because payloads hold phone numbers and addresses.

`replay` publishes a parked message again to its origin topic: the original
value bytes and key, the original headers without the `dlq.*` ones, plus
`dlq.replayed_from: <dlq topic>:<partition>:<offset>`, through an idempotent
acks=all producer. The consumer that parked it then applies it with its fix.

Why re-publishing to the shared origin topic is safe. The origin topic is read
by every consumer of that topic, not only by the one that parked the message,
so all of them receive the replay. The value bytes are unchanged, so its
`event_id` is unchanged, and every consumer applies an event through its inbox
(`apply_once`: the processed event ids are recorded in the handler's own
transaction). Hence:

- a consumer that already applied the event finds its id and does nothing
  (the outcome is "duplicate"): nothing it applied is applied a second time;
- a consumer that does not react to that event type skips it, as before;
- a consumer that parked it too (a contract error parks at every consumer of
  the topic) gets another try: applied if it was fixed, parked again if not.

A replay still failing is parked again, under a new dead-letter offset; that is
expected. A replayed event arrives late, after newer events of its aggregate;
the consumers already converge whatever the arrival order (Invariant 4), and
their state machines ignore a step they are past. A message that is not an
envelope (no `event_id`, e.g. malformed JSON) cannot be deduplicated and would
only be parked again by every consumer, so `replay` refuses it unless `--force`.

What was replayed is printed, one line per message with its new origin offset;
keep that output as the record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import RecordMetadata

from service_kit.consumer import RawMessage
from service_kit.outbox import make_producer
from service_kit.redaction import redact
from service_kit.snapshot import read_snapshot
from shared_events.topics import CONSUMERS, dead_letter_topic

log = logging.getLogger(__name__)

REPLAYED_FROM = "dlq.replayed_from"


@dataclass(frozen=True)
class DeadLetter(RawMessage):
    """One parked message, as it sits on a dead-letter topic, and whose it is."""

    service: str = field(kw_only=True)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def origin_topic(self) -> str | None:
        return self.header("dlq.origin_topic")

    @property
    def origin_partition(self) -> int | None:
        return _int(self.header("dlq.origin_partition"))

    @property
    def origin_offset(self) -> int | None:
        return _int(self.header("dlq.origin_offset"))

    @property
    def envelope(self) -> dict[str, Any] | None:
        """The JSON envelope when the value parses as one (never validated further)."""
        try:
            data = json.loads(self.value) if self.value is not None else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    @property
    def event_type(self) -> str:
        found = self.header("event_type") or (self.envelope or {}).get("event_type")
        return found if isinstance(found, str) and found else "?"

    @property
    def event_id(self) -> str | None:
        found = (self.envelope or {}).get("event_id")
        return found if isinstance(found, str) and found else None

    @property
    def error(self) -> str:
        return redact(self.header("dlq.error") or "")

    def row(self) -> dict[str, Any]:
        """Everything `list` shows; deliberately no value bytes and no payload."""
        return {
            "service": self.service,
            "dlq_topic": self.topic,
            "dlq_partition": self.partition,
            "dlq_offset": self.offset,
            "origin_topic": self.origin_topic,
            "origin_partition": self.origin_partition,
            "origin_offset": self.origin_offset,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "error_type": self.header("dlq.error_type"),
            "error": self.error,
            "attempts": _int(self.header("dlq.attempts")),
            "failed_at": self.header("dlq.failed_at"),
            "replayed_from": self.header(REPLAYED_FROM),
        }


@dataclass(frozen=True)
class Replay:
    """What `replay` did with one parked message; `sent` is None on a dry run or a refusal."""

    letter: DeadLetter
    sent: RecordMetadata | None = None
    refused: str | None = None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- reading


async def read_dead_letters(
    bootstrap: str, services: Iterable[str] = CONSUMERS, *, within: float = 30
) -> list[DeadLetter]:
    """Every message parked by `services`, from the beginning to the end as of the call:
    never waits for more. A service whose dead-letter topic does not exist has none."""
    topics = {dead_letter_topic(s): s for s in services}
    messages = await read_snapshot(
        bootstrap, list(topics), client_id="dlq-cli", stall_timeout=within, missing_ok=True
    )
    letters = [DeadLetter(**vars(m), service=topics[m.topic]) for m in messages]
    return sorted(letters, key=lambda x: (x.service, x.partition, x.offset))


def select(
    letters: Sequence[DeadLetter],
    service: str,
    *,
    partition: int | None = None,
    offset: int | None = None,
) -> list[DeadLetter]:
    """The service's letters, narrowed to one dead-letter partition and offset if given."""
    return [
        x
        for x in letters
        if x.service == service
        and (partition is None or x.partition == partition)
        and (offset is None or x.offset == offset)
    ]


# ---------------------------------------------------------------- replaying


def refusal(letter: DeadLetter) -> str | None:
    """Why a letter must not be replayed, or None when it may."""
    if letter.origin_topic is None:
        return "no dlq.origin_topic header"
    if letter.event_id is None:
        return "not an event envelope (no event_id): every consumer would park it again"
    return None


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        *((k, v) for k, v in letter.headers if not k.startswith("dlq.")),
        (REPLAYED_FROM, letter.coordinates.encode()),
    ]


async def replay(
    bootstrap: str,
    letters: Sequence[DeadLetter],
    *,
    dry_run: bool = False,
    force: bool = False,
) -> list[Replay]:
    """Publish each letter again to its origin topic, in dead-letter order."""
    refused = {}
    for letter in letters:
        reason = refusal(letter)
        if reason is not None and not (force and letter.origin_topic is not None):
            refused[letter.coordinates] = reason
    if dry_run or len(refused) == len(letters):
        return [Replay(x, refused=refused.get(x.coordinates)) for x in letters]
    results: list[Replay] = []
    producer = make_producer(bootstrap, "dlq-replay")
    await producer.start()
    try:
        for letter in letters:
            if letter.coordinates in refused or letter.origin_topic is None:
                results.append(Replay(letter, refused=refused.get(letter.coordinates)))
                continue
            sent = await producer.send_and_wait(
                letter.origin_topic,
                value=letter.value,
                key=letter.key,
                # Keyed: the partitioner puts it beside its aggregate's events, as before.
                partition=letter.origin_partition if letter.key is None else None,
                headers=replay_headers(letter),
            )
            results.append(Replay(letter, sent=sent))
    finally:
        await producer.stop()
    return results


# ---------------------------------------------------------------- the command line


COLUMNS = ("service", "dlq", "origin", "event_type", "error", "attempts", "failed_at")


def table(letters: Sequence[DeadLetter]) -> str:
    rows = [
        (
            x.service,
            f"{x.partition}/{x.offset}",
            f"{x.origin_topic or '?'}[{x.origin_partition}]@{x.origin_offset}",
            x.event_type,
            _short(f"{x.header('dlq.error_type') or '?'}: {_without_location(x.error)}", 70),
            x.header("dlq.attempts") or "?",
            (x.header("dlq.failed_at") or "?")[:19],
        )
        for x in letters
    ]
    widths = [max(len(str(r[i])) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        for r in [COLUMNS, *rows]
    )


def _without_location(error: str) -> str:
    # "<Type>: <message> at <file>:<line>": the type has its own column, the file is noise.
    message = error.split(": ", 1)[1] if ": " in error else error
    return message.rsplit(" at /", 1)[0]


def describe(result: Replay) -> str:
    letter = result.letter
    origin = f"{letter.origin_topic}[{letter.origin_partition}]@{letter.origin_offset}"
    what = f"{letter.coordinates} {letter.event_type} (was {origin})"
    if result.refused:
        return f"refused   {what}: {result.refused}"
    if result.sent is None:
        return f"would replay {what}"
    return f"replayed  {what} -> {result.sent.topic}[{result.sent.partition}]@{result.sent.offset}"


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    p = argparse.ArgumentParser(
        prog="python -m fooddelivery_ops dlq",
        description="List and replay what the consumers parked on their dead-letter topics.",
    )
    commands = p.add_subparsers(dest="command", required=True)

    ls = commands.add_parser(
        "list", parents=[common], help="one row per parked message; never the payloads"
    )
    ls.add_argument("--service", action="append", help="a consuming service (repeatable)")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")

    rp = commands.add_parser(
        "replay", parents=[common], help="publish parked messages again to their origin topic"
    )
    rp.add_argument("--service", required=True, help="whose dead-letter topic")
    rp.add_argument("--partition", type=int, help="dead-letter partition")
    rp.add_argument("--offset", type=int, help="dead-letter offset")
    rp.add_argument("--all", action="store_true", help="every message parked by --service")
    rp.add_argument("--dry-run", action="store_true", help="show what would go; publish nothing")
    rp.add_argument("--force", action="store_true", help="replay messages that are not envelopes")
    return p


async def run(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "list":
        letters = await read_dead_letters(args.bootstrap, args.service or CONSUMERS)
        if args.json:
            for x in letters:
                print(json.dumps(x.row(), ensure_ascii=False))
        else:
            print(table(letters))
            print(f"\n{len(letters)} parked message(s)")
        return 0

    picked = (args.partition is not None, args.offset is not None)
    if picked != ((False, False) if args.all else (True, True)):
        p.error("replay takes either --all or both --partition and --offset")
    letters = select(
        await read_dead_letters(args.bootstrap, [args.service]),
        args.service,
        partition=args.partition,
        offset=args.offset,
    )
    if not letters:
        where = "" if args.all else f" at {args.partition}/{args.offset}"
        print(f"no parked message for {args.service}{where}", file=sys.stderr)
        return 1
    results = await replay(args.bootstrap, letters, dry_run=args.dry_run, force=args.force)
    for result in results:
        print(describe(result))
    sent = sum(r.sent is not None for r in results)
    refused = sum(r.refused is not None for r in results)
    print(f"\n{sent} replayed, {refused} refused" + (" (dry run)" if args.dry_run else ""))
    return 1 if refused and not args.all else 0


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = asyncio.run(run(argv))
    except KafkaConnectionError as exc:
        print(f"cannot reach Kafka: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
