"""Rebuild mypage's read model from scratch by replaying the event topics.

    uv run python -m mypage_service.entrypoints.rebuild [--database-url URL]
        [--bootstrap HOST:PORT] [--live-url URL | --no-live-log] [--force]
        [--verify-against URL]

What it does:
1. Picks a FRESH database: `--database-url`, or by default a new SQLite file next
   to the live one (`mypage-service.rebuild-<time>.db`). The live database is
   `--live-url`, else what the service would use: $DATABASE_URL, else
   $FOODDELIVERY_DATA_DIR/mypage-service.db (`make run` keeps it in .local/run/db).
   It refuses a database that holds any row unless `--force`, and always refuses
   the live database. The target is wired by mypage's own `bootstrap`, with
   settings that point at it, and migrated to the current schema.
2. Reads every partition of the order, store and delivery topics from the
   beginning up to the end offsets captured at start, with a plain consumer
   that joins no group and commits nothing: the live worker's offsets are
   untouched. Each message goes through the worker's own EventProcessor and
   MessageBus policies, so dedupe (the inbox, under the worker's consumer
   name), precedence and convergence are the live code's. What the worker would
   dead-letter is reported at the end, never parked again. One transaction per
   message, as in the worker: the same code, at the worker's pace.
3. Carries the notification log over (adapters.notification_carry_over).
4. Prints the counts and how to switch; `--verify-against URL` then compares
   order_status and order_timeline row by row with that database.

Notifications: the replay decides messages exactly as the live worker does, but
no dispatcher runs here, and the decisions are then replaced by the live log:
- every live row is copied over (same notification_id, which is the gateway's
  dedup key; same state, attempts and times). What was sent stays sent; what
  the live dispatcher still owes (gateway down) stays owed, under the same key,
  so even a message both databases send is recognised by the gateway as one;
- a message the replay decided that the live log does not have is marked SENT
  (no `sent_at`, a note in `last_error`): nobody is messaged because of a rebuild.
  With `--no-live-log`, or no live database found, that applies to every row.
Copying, rather than only marking everything sent, keeps the customer's message
list as it was: a replay reads the topics in a different interleaving than the
live worker did, and may well decide fewer messages (a status overtaken in the
replay was a change the customer saw live).

Switching: the worker resumes from its own committed offsets, so the rebuilt
database must hold everything the worker has read. Stop the mypage worker, run
the rebuild (again with `--force` onto the same target to catch up: what is in
already is a duplicate), then start the mypage API and worker with
DATABASE_URL pointing at the rebuilt database. The rebuild warns when the live
worker has read past the end offsets it replayed to.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from aiokafka import TopicPartition
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from mypage_service import bootstrap as wiring
from mypage_service.adapters.databases import (
    reader_engine,
    same_database,
    shown,
    sqlite_path,
    tables_with_rows,
)
from mypage_service.adapters.notification_carry_over import CarriedOver, carry_over
from mypage_service.adapters.notifier import LogNotifier
from mypage_service.adapters.read_model_diff import Comparison, compare_read_models
from mypage_service.adapters.replay import Counts, Problem, RecordedProblems
from mypage_service.service_layer.unit_of_work import PRODUCER
from service_kit.consumer import EventProcessor
from service_kit.messagebus import MessageBus
from service_kit.snapshot import TopicSnapshot, committed_offsets

log = logging.getLogger(__name__)


class RefusedTarget(Exception):
    """The target database is not one a rebuild may write into."""


@dataclass
class Rebuilt:
    target: str
    counts: Counts
    problems: list[Problem]
    notifications: CarriedOver
    live_log: str | None  # where the notifications were copied from
    # Partitions where the live worker had read past what this rebuild replayed.
    worker_ahead: list[str] = field(default_factory=list)


def live_database_url() -> str:
    """The database the mypage API and worker use, as they would find it."""
    return wiring.settings_from_env().database_url


def default_target(live_url: str) -> str:
    live = sqlite_path(live_url)
    if live is None:
        raise RefusedTarget("the live database is not a SQLite file: give --database-url")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"sqlite+aiosqlite:///{live.with_name(f'{live.stem}.rebuild-{stamp}.db')}"


async def rebuild(
    target_url: str,
    bootstrap: str,
    *,
    live_url: str | None,
    force: bool = False,
    progress: bool = True,
) -> Rebuilt:
    """Replay the topics into `target_url`; `live_url` None copies no notification log."""
    if live_url is not None and same_database(target_url, live_url):
        raise RefusedTarget("the target is the live database: a rebuild builds a fresh one")
    # Opened first: a live database that is not there fails before the long replay.
    live = reader_engine(live_url) if live_url is not None else None
    # The live worker's own wiring on the fresh database; its dispatcher never runs
    # here (and its notifier only logs): a rebuild messages nobody.
    settings = replace(
        wiring.settings_from_env(), database_url=target_url, kafka_bootstrap_servers=bootstrap
    )
    container = wiring.bootstrap(settings, notifier=LogNotifier())
    platform = container.platform
    try:
        filled = await tables_with_rows(platform.engine)
        if filled and not force:
            raise RefusedTarget(
                f"{shown(target_url)} is not empty ({', '.join(filled)}); "
                "use --force to replay into it anyway"
            )
        await platform.migrate()
        counts, problems, ends = await _replay(container.bus, bootstrap, progress)
        carried = await carry_over(platform.engine, live)
    finally:
        await platform.dispose()
        if live is not None:
            await live.dispose()
    try:
        committed = await committed_offsets(bootstrap, PRODUCER, client_id="mypage-rebuild")
    except Exception as exc:  # informative only: the rebuild itself is done
        log.warning("could not read the live worker's offsets: %s", type(exc).__name__)
        committed = {}
    return Rebuilt(target_url, counts, problems, carried, live_url, ahead(ends, committed))


async def _replay(
    bus: MessageBus, bootstrap: str, progress: bool
) -> tuple[Counts, list[Problem], dict[TopicPartition, int]]:
    sink = RecordedProblems(PRODUCER)
    # Fewer, quicker retries than the worker's: nothing here waits on a flaky peer.
    processor = EventProcessor(PRODUCER, bus, sink, attempts=3, backoff_multiplier=0.05)
    counts = Counts()
    topics = bus.subscribed_topics()
    async with TopicSnapshot(bootstrap, topics, client_id="mypage-rebuild") as replay:
        with (
            logging_redirect_tqdm(),
            tqdm(total=replay.total, unit="msg", desc="replaying", disable=not progress) as bar,
        ):
            async for message in replay.messages():
                counts.add(await processor.process(message))
                bar.update()
        return counts, sink.problems, replay.end


def ahead(ends: dict[TopicPartition, int], committed: dict[TopicPartition, int]) -> list[str]:
    """The partitions where the live worker has read past the replay's end offsets:
    events the rebuilt database lacks and the worker would not read again."""
    return [
        f"{tp.topic}[{tp.partition}] worker at {committed[tp]}, rebuilt to {end}"
        for tp, end in sorted(ends.items())
        if committed.get(tp, 0) > end
    ]


def report(done: Rebuilt) -> str:
    c, n = done.counts, done.notifications
    lines = [
        f"Rebuilt mypage's read model into {shown(done.target)}",
        f"  messages read  {c.read:>8}",
        f"  applied        {c.applied:>8}",
        f"  duplicates     {c.duplicates:>8}   (already applied: same event id)",
        f"  skipped        {c.skipped:>8}   (events mypage does not project)",
        f"  problems       {c.problems:>8}   (the worker dead-letters these; not parked again)",
        *(f"    {p}" for p in done.problems[:20]),
        *([f"    ... and {len(done.problems) - 20} more"] if len(done.problems) > 20 else []),
    ]
    if done.live_log is not None:
        lines.append(
            f"  notifications  {n.copied} copied from the live log {shown(done.live_log)}; "
            f"{n.silenced} decided only by the replay, marked SENT (never sent)"
        )
        if n.left_behind:
            lines.append(f"    {n.left_behind} live notifications of orders not rebuilt")
    else:
        lines.append(f"  notifications  no live log: {n.silenced} marked SENT (never sent)")
    if done.worker_ahead:
        lines += [
            "WARNING: the live worker has read past this rebuild; stop it and run again "
            "with --force onto the same target before switching:",
            *(f"    {line}" for line in done.worker_ahead),
        ]
    lines += [
        "",
        "To switch: stop the mypage worker and API, then start both with",
        f"  DATABASE_URL={shown(done.target)}",
        "(the worker resumes from its committed offsets; what it reads again is a duplicate).",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mypage_service.entrypoints.rebuild",
        description="Rebuild mypage's read model by replaying the event topics.",
    )
    parser.add_argument("--database-url", help="the fresh target (default: next to the live one)")
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    live = parser.add_mutually_exclusive_group()
    live.add_argument("--live-url", help="the live database (default: $DATABASE_URL or its file)")
    live.add_argument(
        "--no-live-log", action="store_true", help="copy no notification log: mark all sent"
    )
    parser.add_argument("--force", action="store_true", help="replay into a non-empty database")
    parser.add_argument("--verify-against", metavar="URL", help="compare the result with URL")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def _live_log(args: argparse.Namespace) -> str | None:
    if args.no_live_log:
        return None
    if args.live_url:
        return args.live_url
    url = live_database_url()
    path = sqlite_path(url)
    return None if path is not None and not path.exists() else url


async def run(args: argparse.Namespace) -> int:
    live_url = _live_log(args)
    try:
        target = args.database_url or default_target(args.live_url or live_database_url())
        done = await rebuild(
            target,
            args.bootstrap,
            live_url=live_url,
            force=args.force,
            progress=not args.no_progress,
        )
    except (RefusedTarget, FileNotFoundError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(report(done), flush=True)
    if args.verify_against:
        comparison: Comparison = await compare_read_models(target, args.verify_against)
        print(f"\nverify: {comparison}", flush=True)
        return 0 if comparison.identical else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s mypage-rebuild %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # The consumer logs each failure as "parked"; here nothing is, the report lists them.
    logging.getLogger("service_kit.consumer").setLevel(logging.CRITICAL)
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
