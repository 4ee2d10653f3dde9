"""A stable view's memory: answers kept per version of the database, a check of the
version shared by the requests that arrived while the one before it was out, never
one sent before a request arrived (reads.Memory, reads.Snapshots)."""

from __future__ import annotations

import asyncio

import pytest

from service_kit.reads import Memory, Snapshots


def test_a_new_version_forgets_every_answer():
    memory = Memory()
    memory.get("v1", ("page", "o1"))
    memory.put("v1", ("page", "o1"), "placed")
    assert memory.get("v1", ("page", "o1")) == "placed"
    assert memory.get("v2", ("page", "o1")) != "placed"
    assert memory.get("v1", ("page", "o1")) != "placed"  # forgotten for good


def test_an_answer_read_before_the_newest_version_is_not_kept():
    memory = Memory()
    memory.get("v1", ("page", "o1"))  # a read begins, at v1
    memory.get("v2", ("page", "o2"))  # meanwhile a later request saw v2
    memory.put("v1", ("page", "o1"), "placed")  # the v1 read ends: maybe stale at v2
    assert memory.get("v2", ("page", "o1")) != "placed"


def test_an_argument_no_key_can_hold_is_read_every_time():
    memory = Memory()
    key = ("count", ["t"])
    memory.get("v1", key)
    memory.put("v1", key, 1)  # not kept, and no error
    assert memory.get("v1", key) != 1


class Server:
    """A fake database whose snapshot checks the test answers one by one."""

    def __init__(self) -> None:
        self.asked: list[asyncio.Future[object]] = []

    async def ask(self) -> object:
        check = asyncio.get_running_loop().create_future()
        self.asked.append(check)
        return await check


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_share_a_check_sent_after_they_arrived():
    server = Server()
    snapshots = Snapshots(server.ask)
    first = asyncio.create_task(snapshots())
    await settle()
    assert len(server.asked) == 1  # sent at once
    # Two arrive while it is out: it may predate a commit they must see.
    later = [asyncio.create_task(snapshots()) for _ in range(2)]
    await settle()
    assert len(server.asked) == 1
    server.asked[0].set_result("s1")
    await settle()
    assert first.done() and first.result() == "s1"
    assert not any(task.done() for task in later)
    assert len(server.asked) == 2  # one more check, for both of them
    server.asked[1].set_result("s2")
    assert await asyncio.gather(*later) == ["s2", "s2"]
    await settle()
    assert len(server.asked) == 2  # nobody waiting: nothing more asked


async def test_a_failed_check_fails_its_callers_and_the_next_call_asks_again():
    server = Server()
    snapshots = Snapshots(server.ask)
    waiting = asyncio.create_task(snapshots())
    await settle()
    server.asked[0].set_exception(ConnectionError("gone"))
    with pytest.raises(ConnectionError):
        await waiting
    again = asyncio.create_task(snapshots())
    await settle()
    server.asked[1].set_result("s1")
    assert await again == "s1"


async def test_a_caller_that_gives_up_leaves_the_check_to_the_others():
    server = Server()
    snapshots = Snapshots(server.ask)
    quitter, stayer = asyncio.create_task(snapshots()), asyncio.create_task(snapshots())
    await settle()
    quitter.cancel()
    await settle()
    server.asked[0].set_result("s1")
    assert await stayer == "s1"
