"""The API process's hub of open status page streams: a wake by order id reaches the
streams of that order only, a stream that ends leaves nothing behind, and a stream
re-reads when woken (or, a wake lost, at its slow safety re-read)."""

import asyncio

from mypage_service.entrypoints.stream import StreamHub, StreamSettings, order_events


def test_a_wake_reaches_every_stream_of_that_order_and_no_other():
    hub = StreamHub()
    with (
        hub.subscribe("o-1") as first,
        hub.subscribe("o-1") as second,
        hub.subscribe("o-2") as other,
    ):
        hub.changed(["o-1", "o-unknown"])

        assert first.is_set()
        assert second.is_set()
        assert not other.is_set()


def test_a_stream_that_ends_is_forgotten_with_its_order():
    hub = StreamHub()
    with hub.subscribe("o-1"):
        with hub.subscribe("o-1") as leaving:
            assert len(hub) == 1
        hub.changed(["o-1"])
        assert not leaving.is_set()  # no longer subscribed: not woken
        assert len(hub) == 1  # the other stream still follows o-1
    assert len(hub) == 0


def test_a_stream_that_fails_is_forgotten_too():
    hub = StreamHub()
    try:
        with hub.subscribe("o-1"):
            raise ConnectionResetError("the client went away")
    except ConnectionResetError:
        pass
    assert len(hub) == 0


async def test_a_disconnected_client_unsubscribes_its_waiting_stream():
    # sse-starlette cancels the task that iterates the stream when the client goes.
    hub = StreamHub()
    subscribed = asyncio.Event()

    async def stream() -> None:
        with hub.subscribe("o-1") as woken:
            subscribed.set()
            await woken.wait()

    task = asyncio.create_task(stream())
    await asyncio.wait_for(subscribed.wait(), timeout=5)
    assert len(hub) == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(hub) == 0


def test_many_streams_coming_and_going_leave_no_trace():
    hub = StreamHub()
    for n in range(1000):
        with hub.subscribe(f"o-{n % 7}"), hub.subscribe(f"o-{n}"):
            hub.changed([f"o-{n}"])
    assert len(hub) == 0


class FakeReads:
    """Reads the order's signature and view from a dict, counting the reads."""

    def __init__(self) -> None:
        self.signature = "1.1"
        self.signature_reads = 0
        self.transactions = 0

    async def __call__(self, view, asked: list[tuple[str, str | None]]):
        assert view.__name__ == "orders_since"
        self.signature_reads += len(asked)
        self.transactions += 1
        return [
            (self.signature, None)
            if self.signature == since
            else (self.signature, {"order_id": order_id, "version": self.signature})
            for order_id, since in asked
        ]


async def test_a_stream_reads_again_when_woken_and_not_before():
    hub, reads = StreamHub(), FakeReads()
    hour = StreamSettings(poll_s=3600.0, max_s=7200.0)
    events = order_events(reads, hub, "o-1", None, hour)

    first = await asyncio.wait_for(anext(events), 5)
    assert first.id == "1.1"
    following = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # the stream now waits for a wake
    reads.signature = "2.2"
    hub.changed(["o-2"])  # another order: not this stream's business
    await asyncio.sleep(0.05)
    assert not following.done()
    assert reads.signature_reads == 1

    hub.changed(["o-1"])
    second = await asyncio.wait_for(following, 5)
    assert second.id == "2.2"
    await events.aclose()
    assert len(hub) == 0


async def test_without_a_wake_the_safety_read_still_comes():
    hub, reads = StreamHub(), FakeReads()
    events = order_events(reads, hub, "o-1", None, StreamSettings(poll_s=0.05, max_s=60))
    await asyncio.wait_for(anext(events), 5)
    reads.signature = "2.2"  # changed, but its wake was lost

    second = await asyncio.wait_for(anext(events), 5)
    assert second.id == "2.2"
    await events.aclose()


async def test_the_streams_one_commit_woke_read_in_one_transaction():
    hub, reads = StreamHub(), FakeReads()
    hour = StreamSettings(poll_s=3600.0, max_s=7200.0)
    streams = [order_events(reads, hub, order_id, None, hour) for order_id in ("o-1", "o-2")]
    for events in streams:
        await asyncio.wait_for(anext(events), 5)
    following = [asyncio.ensure_future(anext(events)) for events in streams]
    await asyncio.sleep(0)  # both now wait for a wake
    before = reads.transactions
    reads.signature = "2.2"
    hub.changed(["o-1", "o-2"])

    woken = await asyncio.wait_for(asyncio.gather(*following), 5)
    assert [event.id for event in woken] == ["2.2", "2.2"]
    assert reads.transactions == before + 1
    for events in streams:
        await events.aclose()
    assert len(hub) == 0
