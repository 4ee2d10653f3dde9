"""The owner's commands on kitchen tickets, through the message bus on in-memory fakes."""

import pytest

from service_kit.kernel import Conflict, Forbidden, InvalidInput, NotFound
from shared_events import contract
from store_service.domain import commands
from store_service.domain.store_order import TicketStatus
from store_service.service_layer.messagebus import create_bus

from ..events import ORDER, OWNER, STORE, delivery_confirmed, envelope, order_placed
from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
async def bus(uow: FakeUnitOfWork):
    bus = create_bus(uow.factory)
    await bus.handle(commands.RegisterStore(STORE, OWNER, "Hansik House", "gangnam"))
    await bus.handle(commands.SetMenuItem(STORE, "m1", OWNER, "Bibimbap", 9000, 50))
    return bus


async def deliver(bus, event: contract.Payload, minutes: int = 0) -> None:
    env = envelope(event, minutes)
    await bus.handle_event(env, env.event())


def published(uow: FakeUnitOfWork) -> list[str]:
    return [e.event_type for e in uow.published if e.event_type != "MenuItemChanged"]


async def test_the_owner_accepts_cooks_and_finishes_and_each_step_is_published(bus, uow):
    await deliver(bus, order_placed())

    accepted = await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=True))
    assert accepted.status == TicketStatus.ACCEPTED
    await bus.handle(commands.StartCooking(ORDER, OWNER))
    cooked = await bus.handle(commands.FinishCooking(ORDER, OWNER))

    assert cooked.status == TicketStatus.COOKED
    assert published(uow) == ["OrderAccepted", "CookStarted", "CookFinished"]
    assert all(e.aggregate_id == ORDER for e in uow.published[-3:])


async def test_the_owner_rejects_with_a_reason(bus, uow):
    await deliver(bus, order_placed())

    ticket = await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=False, reason="sold out"))

    assert (ticket.status, ticket.reason) == (TicketStatus.REJECTED, "sold out")
    event = uow.published[-1].event()
    assert event == contract.OrderRejected(
        order_id=ORDER, store_id=STORE, reason="sold out", rejected_by="owner"
    )


async def test_rejecting_without_a_reason_is_invalid_and_changes_nothing(bus, uow):
    await deliver(bus, order_placed())

    with pytest.raises(InvalidInput):
        await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=False, reason=" "))

    assert uow.store_orders.rows[ORDER].status == TicketStatus.RECEIVED
    assert published(uow) == []


async def test_another_owner_is_forbidden(bus, uow):
    await bus.handle(commands.RegisterStore("s2", "owner2", "Other", "mapo"))
    await deliver(bus, order_placed())

    for command in (
        commands.DecideOrder(ORDER, "owner2", accepted=True),
        commands.StartCooking(ORDER, "owner2"),
        commands.FinishCooking(ORDER, "owner2"),
    ):
        with pytest.raises(Forbidden):
            await bus.handle(command)
    assert uow.store_orders.rows[ORDER].status == TicketStatus.RECEIVED
    assert published(uow) == []


async def test_a_command_in_the_wrong_state_conflicts_and_names_the_state(bus, uow):
    await deliver(bus, order_placed())

    with pytest.raises(Conflict) as refused:
        await bus.handle(commands.FinishCooking(ORDER, OWNER))

    assert refused.value.current_state == "RECEIVED"


async def test_an_unknown_ticket_is_not_found(bus):
    with pytest.raises(NotFound):
        await bus.handle(commands.DecideOrder("nope", OWNER, accepted=True))


async def test_a_ticket_whose_order_placed_has_not_arrived_is_not_found(bus, uow):
    await deliver(bus, delivery_confirmed())  # makes a placeholder
    assert ORDER in uow.store_orders.rows

    with pytest.raises(NotFound):
        await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=True))


async def test_a_ticket_of_a_store_unknown_here_has_no_owner_who_could_act(bus):
    await deliver(bus, order_placed(store_id="ghost"))

    with pytest.raises(Forbidden):
        await bus.handle(commands.DecideOrder(ORDER, OWNER, accepted=True))
