"""The claim-loop shape on fakes: each due item acted on once, however many loops
share the to-do list; failures collected and retried; EndPass ends a pass quietly."""

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from service_kit.claims import ClaimLoop, ClaimsFailed, EndPass, Pacing, claimed


class Todo:
    """A shared to-do list whose claim is atomic, as a locked row is."""

    def __init__(self, items: list[int]) -> None:
        self.pending = list(items)
        self.held: set[int] = set()
        self.done: list[int] = []


class Worker(ClaimLoop[int]):
    def __init__(self, todo: Todo, *, broken=(), ends=()) -> None:
        super().__init__(Pacing(0.01, batch_size=10, backoff_multiplier=0, max_backoff=0))
        self.todo, self.broken, self.ends = todo, set(broken), set(ends)
        self.tried: list[int] = []

    async def due(self, limit: int) -> list[int]:
        return self.todo.pending[:limit]

    async def act(self, item: int) -> int:
        if item in self.todo.held or item not in self.todo.pending:
            return 0  # skipped: someone else has it, or it is done
        self.todo.held.add(item)
        try:
            self.tried.append(item)
            await asyncio.sleep(0)  # the other loop runs meanwhile
            if item in self.ends:
                raise EndPass
            if item in self.broken:
                raise ConnectionError("gateway away")
            self.todo.pending.remove(item)
            self.todo.done.append(item)
            return 1
        finally:
            self.todo.held.discard(item)


async def test_two_loops_on_one_list_never_act_on_the_same_item():
    todo = Todo(list(range(30)))
    one, two = Worker(todo), Worker(todo)
    while todo.pending:
        await asyncio.gather(one.work_off(), two.work_off())
    assert sorted(todo.done) == list(range(30))
    assert not set(one.tried) & set(two.tried)


async def test_a_failed_item_stays_due_and_the_others_go_on():
    todo = Todo([1, 2, 3])
    worker = Worker(todo, broken={2})
    with pytest.raises(ClaimsFailed) as failed:
        await worker.work_off()
    assert failed.value.items == [2]
    assert (todo.done, todo.pending) == ([1, 3], [2])
    worker.broken.clear()
    assert await worker.work_off() == 1


async def test_end_pass_stops_the_pass_without_a_failure():
    todo = Todo([1, 2, 3])
    worker = Worker(todo, ends={2})
    assert await worker.work_off() == 1
    assert worker.tried == [1, 2]


async def test_a_stopping_loop_takes_no_further_item():
    todo = Todo([1, 2])
    worker = Worker(todo)
    worker.stop()
    assert await worker.work_off() == 0
    assert todo.done == []


def test_the_claim_skips_locked_rows_on_postgresql_and_is_no_clause_on_sqlite():
    rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True))
    query = claimed(select(rows.c.id))
    assert "FOR UPDATE SKIP LOCKED" in str(query.compile(dialect=postgresql.dialect()))
    assert "FOR UPDATE" not in str(query.compile(dialect=sqlite.dialect()))
