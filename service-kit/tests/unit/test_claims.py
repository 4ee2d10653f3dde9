"""The claim-loop shape on fakes: each due item acted on once, however many loops
share the to-do list; failures collected and retried; EndPass ends a pass quietly."""

import asyncio
from contextlib import nullcontext

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from service_kit.claims import ClaimLoop, Claims, ClaimsFailed, EndPass, Pacing, claimed


class Todo:
    """A shared to-do list whose claim is atomic, as a locked row is."""

    def __init__(self, items: list[int]) -> None:
        self.pending = list(items)
        self.held: set[int] = set()
        self.done: list[int] = []


class Items(Claims[int, Todo]):
    def __init__(self, *, broken=(), ends=()) -> None:
        self.broken, self.ends = set(broken), set(ends)
        self.tried: list[int] = []

    async def due(self, uow: Todo, limit: int) -> list[int]:
        return uow.pending[:limit]

    async def act(self, uow: Todo, item: int) -> int:
        todo = uow
        if item in todo.held or item not in todo.pending:
            return 0  # skipped: someone else has it, or it is done
        todo.held.add(item)
        try:
            self.tried.append(item)
            await asyncio.sleep(0)  # the other loop runs meanwhile
            if item in self.ends:
                raise EndPass
            if item in self.broken:
                raise ConnectionError("gateway away")
            todo.pending.remove(item)
            todo.done.append(item)
            return 1
        finally:
            todo.held.discard(item)


def worker_on(todo: Todo, *, broken=(), ends=()) -> ClaimLoop[int, Todo]:
    """A loop over the shared list (the list is its own unit of work here)."""
    pacing = Pacing(0.01, batch_size=10, backoff_multiplier=0, max_backoff=0)
    return ClaimLoop(lambda: nullcontext(todo), Items(broken=broken, ends=ends), pacing)


async def test_two_loops_on_one_list_never_act_on_the_same_item():
    todo = Todo(list(range(30)))
    one, two = worker_on(todo), worker_on(todo)
    while todo.pending:
        await asyncio.gather(one.work_off(), two.work_off())
    assert sorted(todo.done) == list(range(30))
    assert not set(one.claims.tried) & set(two.claims.tried)


async def test_a_failed_item_stays_due_and_the_others_go_on():
    todo = Todo([1, 2, 3])
    worker = worker_on(todo, broken={2})
    with pytest.raises(ClaimsFailed) as failed:
        await worker.work_off()
    assert failed.value.items == [2]
    assert (todo.done, todo.pending) == ([1, 3], [2])
    worker.claims.broken.clear()
    assert await worker.work_off() == 1


async def test_end_pass_stops_the_pass_without_a_failure():
    todo = Todo([1, 2, 3])
    worker = worker_on(todo, ends={2})
    assert await worker.work_off() == 1
    assert worker.claims.tried == [1, 2]


async def test_a_stopping_loop_takes_no_further_item():
    todo = Todo([1, 2])
    worker = worker_on(todo)
    worker.stop()
    assert await worker.work_off() == 0
    assert todo.done == []


def test_the_claim_skips_locked_rows_on_postgresql_and_is_no_clause_on_sqlite():
    rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True))
    query = claimed(select(rows.c.id))
    assert "FOR UPDATE SKIP LOCKED" in str(query.compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE" not in str(query.compile(dialect=sqlite.dialect()))
