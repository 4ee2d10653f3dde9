"""The acceptance timer on the in-memory unit of work and a clock the test moves:
no test sleeps for the window."""

import time
from datetime import datetime, timedelta

import pytest

from service_kit.claims import ClaimLoop, Pacing
from service_kit.runtime import running
from service_kit.uow import Trace
from shared_events import contract
from store_service.domain import commands
from store_service.domain.store_order import TicketStatus, WrongTicketState
from store_service.service_layer.acceptance_timer import (
    OverdueTickets,
    max_sleep_for,
    seconds_until,
)
from store_service.service_layer.messagebus import create_bus
from store_service.settings import InvalidSetting, KitchenSettings
from testkit import eventually

from ..events import ORDER, OWNER, STORE, WINDOW, at, envelope, order_placed
from .fakes import FakeUnitOfWork


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> Clock:
    return Clock(at(0))


def timer_on(uow: FakeUnitOfWork, clock: Clock, **pacing) -> ClaimLoop:
    return ClaimLoop(lambda: uow.factory(Trace()), OverdueTickets(clock), Pacing(**pacing))


@pytest.fixture
def timer(uow, clock) -> ClaimLoop:
    return timer_on(uow, clock)


@pytest.fixture
async def bus(uow: FakeUnitOfWork, timer: ClaimLoop):
    bus = create_bus(uow.factory, acceptance_window=WINDOW, wake_timer=timer.wake)
    await bus.handle(commands.RegisterStore(STORE, OWNER, "Hansik House", "gangnam"))
    await bus.handle(commands.SetMenuItem(STORE, "m1", OWNER, "Bibimbap", 9000, 50))
    return bus


async def place(bus, order_id: str = ORDER, minutes: int = 0) -> None:
    env = envelope(order_placed(order_id), minutes)
    await bus.handle_event(env, env.event())


def rejections(uow: FakeUnitOfWork) -> list[contract.OrderRejected]:
    return [e.event() for e in uow.published if e.event_type == "OrderRejected"]


async def test_the_deadline_is_the_placement_plus_the_configured_window(bus, uow):
    await place(bus, minutes=3)

    assert uow.store_orders.rows[ORDER].accept_by == at(3) + WINDOW


async def test_a_ticket_left_alone_is_rejected_once_when_its_deadline_passes(
    bus, uow, clock, timer
):
    await place(bus)

    clock.now = at(5) - timedelta(seconds=1)
    assert await timer.work_off() == 0
    clock.now = at(5)
    assert await timer.work_off() == 1
    clock.now = at(6)
    assert await timer.work_off() == 0

    assert uow.store_orders.rows[ORDER].status is TicketStatus.REJECTED
    assert rejections(uow) == [
        contract.OrderRejected(
            order_id=ORDER, store_id=STORE, reason="not accepted in time", rejected_by="timeout"
        )
    ]
    assert timer.claims.max_lateness == 0.0


async def test_the_owner_who_comes_after_the_time_out_gets_a_conflict_naming_rejected(
    bus, clock, timer
):
    await place(bus)
    clock.now = at(5)
    await timer.work_off()

    with pytest.raises(WrongTicketState) as refused:
        await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=True))

    assert refused.value.current_state == "REJECTED"


async def test_an_owner_who_accepted_first_is_never_overruled(bus, uow, clock, timer):
    await place(bus)
    await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=True))

    clock.now = at(60)
    assert await timer.work_off() == 0

    assert uow.store_orders.rows[ORDER].status is TicketStatus.ACCEPTED
    assert rejections(uow) == []


async def test_a_deadline_that_passed_while_no_timer_ran_fires_at_the_first_look(bus, uow, clock):
    await place(bus)
    clock.now = at(30)  # the service was down from before the deadline until now

    restarted = timer_on(uow, clock)

    assert await restarted.work_off() == 1
    assert restarted.claims.max_lateness == pytest.approx(timedelta(minutes=25).total_seconds())


async def test_each_look_claims_a_bounded_batch_earliest_deadline_first(bus, uow, clock):
    for i in range(7):
        await place(bus, order_id=f"o-{i}", minutes=i)
    clock.now = at(60)
    timer = timer_on(uow, clock, batch_size=3)

    batches = []
    for _ in range(4):
        before = len(rejections(uow))
        await timer.work_off()
        batches.append({e.order_id for e in rejections(uow)[before:]})

    assert batches == [{"o-0", "o-1", "o-2"}, {"o-3", "o-4", "o-5"}, {"o-6"}, set()]


async def test_the_next_deadline_is_the_earliest_one_still_waiting(bus, uow, timer):
    assert await uow.store_orders.next_deadline() is None
    await place(bus, order_id="late", minutes=4)
    await place(bus, order_id="early", minutes=1)
    await bus.handle(commands.DecideOrder("early", OWNER, accepted=True))

    assert await uow.store_orders.next_deadline() == at(4) + WINDOW


async def fires(timer: ClaimLoop) -> None:
    """Wait (in real time, with a deadline) for the running timer's first time-out."""

    async def fired() -> int:
        return timer.done

    await eventually(fired, within=10, what="the time-out")


async def test_the_running_timer_sleeps_past_no_deadline_and_is_woken_by_a_new_ticket(uow, clock):
    # A sleep bound far beyond the test: only the deadline or a wake() moves it.
    timer = timer_on(uow, clock, poll_interval=3600)
    bus = create_bus(uow.factory, acceptance_window=WINDOW, wake_timer=timer.wake)
    await bus.handle(commands.RegisterStore(STORE, OWNER, "Hansik House", "gangnam"))
    async with running(timer):
        await place(bus)  # registering the ticket wakes the timer, which plans for at(5)
        clock.now = at(5)
        timer.wake()  # stands in for the sleep's end at the deadline
        await fires(timer)

    assert [e.rejected_by for e in rejections(uow)] == ["timeout"]


async def test_the_running_timer_fires_at_the_deadline_without_being_woken(uow):
    # Real time runs 50 ms short of the deadline; no wake() comes and the sleep bound
    # is an hour, so only sleeping until the deadline fires the time-out.
    start = time.monotonic()

    def clock() -> datetime:
        return at(5) - timedelta(seconds=0.05 - (time.monotonic() - start))

    bus = create_bus(uow.factory, acceptance_window=WINDOW)  # nothing wakes the timer
    await bus.handle(commands.RegisterStore(STORE, OWNER, "Hansik House", "gangnam"))
    await place(bus)
    timer = timer_on(uow, clock, poll_interval=3600)
    async with running(timer):
        await fires(timer)

    assert [e.rejected_by for e in rejections(uow)] == ["timeout"]


def test_the_sleep_lasts_until_the_deadline_within_its_bounds():
    assert seconds_until(None, at(0), 1.0) == 1.0
    assert seconds_until(at(0) + timedelta(seconds=0.25), at(0), 1.0) == 0.25
    assert seconds_until(at(1), at(0), 1.0) == 1.0
    assert seconds_until(at(0), at(1), 1.0) == 0.0


def test_the_sleep_bound_never_exceeds_the_window():
    assert max_sleep_for(timedelta(seconds=300)) == 1.0
    assert max_sleep_for(timedelta(seconds=0.5)) == 0.5


def test_the_window_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("ACCEPTANCE_WINDOW_S", raising=False)
    assert KitchenSettings.from_env().acceptance_window == timedelta(seconds=300)
    monkeypatch.setenv("ACCEPTANCE_WINDOW_S", "2")
    assert KitchenSettings.from_env().acceptance_window == timedelta(seconds=2)


@pytest.mark.parametrize("raw", ["soon", "0", "-5", "90000"])
def test_a_window_that_makes_no_sense_stops_the_start(monkeypatch, raw):
    monkeypatch.setenv("ACCEPTANCE_WINDOW_S", raw)
    with pytest.raises(InvalidSetting):
        KitchenSettings.from_env()
