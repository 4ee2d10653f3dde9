"""The rebuild's small decisions, without a broker or a database."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import TopicPartition

from mypage_service.adapters.databases import same_database, shown
from mypage_service.adapters.notification_carry_over import CarriedOver
from mypage_service.adapters.replay import Counts, RecordedProblems
from mypage_service.entrypoints.rebuild import (
    Rebuilt,
    RefusedTarget,
    ahead,
    default_target,
    report,
)
from service_kit.consumer import RawMessage
from service_kit.db import async_url

ORDERS = "fooddelivery.order.events"


def test_the_live_worker_is_ahead_only_where_it_committed_past_the_replay():
    ends = {TopicPartition(ORDERS, 0): 10, TopicPartition(ORDERS, 1): 5}
    committed = {TopicPartition(ORDERS, 0): 10, TopicPartition(ORDERS, 1): 7}

    assert ahead(ends, committed) == [f"{ORDERS}[1] worker at 7, rebuilt to 5"]
    assert ahead(ends, {}) == []  # a worker that never committed is behind, not ahead


def test_the_report_counts_warns_and_says_how_to_switch_without_a_password():
    target = "postgresql://mypage:s3cret@db:5432/mypage_rebuilt"
    done = Rebuilt(
        target,
        Counts(read=12, applied=9, duplicates=2, skipped=1, problems=0),
        [],
        CarriedOver(copied=7, silenced=1),
        "sqlite:///live.db",
        worker_ahead=[f"{ORDERS}[1] worker at 7, rebuilt to 5"],
    )

    text = report(done)

    assert "messages read        12" in text and "duplicates            2" in text
    assert "7 copied from the live log" in text and "1 decided only by the replay" in text
    assert "WARNING: the live worker has read past this rebuild" in text
    assert "DATABASE_URL=postgresql://mypage:***@db:5432/mypage_rebuilt" in text
    assert "s3cret" not in text


async def test_a_problem_keeps_the_first_line_of_the_error_only():
    sink = RecordedProblems("mypage-service")
    error = RuntimeError("UNIQUE constraint failed\n[parameters: ('o-1', '010-1234-5678')]")

    await sink.park(RawMessage(ORDERS, 2, 40, b"k", b"v"), error, attempts=3)

    [problem] = sink.problems
    assert str(problem) == f"{ORDERS}[2]@40  RuntimeError: UNIQUE constraint failed"


def test_the_default_target_is_a_new_file_next_to_the_live_one(tmp_path: Path):
    live = f"sqlite+aiosqlite:///{tmp_path / 'mypage-service.db'}"

    made = default_target(live)

    assert made.startswith(f"sqlite+aiosqlite:///{tmp_path}/mypage-service.rebuild-")
    assert not same_database(made, live)
    with pytest.raises(RefusedTarget):
        default_target("postgresql://db/mypage")  # no "next to" for a server


def test_one_database_under_two_spellings_is_the_same_database(tmp_path: Path):
    assert same_database(f"sqlite:///{tmp_path}/a.db", f"sqlite+aiosqlite:///{tmp_path}/./a.db")
    assert same_database("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db")
    assert not same_database("postgresql://u:p@h/db", "postgresql://u:p@h/other")
    assert "p@" not in shown("postgresql://u:p@h/db")


def test_a_postgresql_url_keeps_its_password_on_the_way_to_the_driver():
    # The rebuild (and every service) opens `async_url(DATABASE_URL)`; a masked
    # password ("***") would fail to log in with docker-compose's URLs.
    assert async_url("postgresql://u:p%40ss@h/db") == "postgresql+asyncpg://u:p%40ss@h/db"
