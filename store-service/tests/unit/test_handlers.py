import pytest

from service_kit.kernel import Forbidden, NotFound
from shared_events.contract import MenuItemChanged
from store_service.domain import commands
from store_service.service_layer.messagebus import create_bus

from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def bus(uow: FakeUnitOfWork):
    return create_bus(uow.factory)


async def test_the_first_caller_registers_the_store_and_owns_it(bus, uow):
    await bus.handle(commands.RegisterStore("s1", "owner1", "Hansik House", "gangnam"))

    assert uow.stores.rows["s1"].owner_id == "owner1"
    assert uow.committed


async def test_someone_else_cannot_take_over_a_registered_store(bus, uow):
    await bus.handle(commands.RegisterStore("s1", "owner1", "Hansik House", "gangnam"))

    with pytest.raises(Forbidden):
        await bus.handle(commands.RegisterStore("s1", "intruder", "Mine Now", "mapo"))
    assert uow.stores.rows["s1"].name == "Hansik House"


async def test_setting_a_menu_item_publishes_menu_item_changed(bus, uow):
    await bus.handle(commands.RegisterStore("s1", "owner1", "Hansik House", "gangnam"))
    await bus.handle(commands.SetMenuItem("s1", "m1", "owner1", "Bibimbap", 9000, 50))

    [envelope] = uow.published
    event = envelope.event()
    assert isinstance(event, MenuItemChanged)
    assert (event.price, event.stock, event.available, event.revision) == (9000, 50, True, 1)
    assert envelope.aggregate_id == "s1/m1"
    assert envelope.producer == "store-service"


async def test_changing_an_item_bumps_its_revision_and_out_of_stock_is_unavailable(bus, uow):
    await bus.handle(commands.RegisterStore("s1", "owner1", "Hansik House", "gangnam"))
    await bus.handle(commands.SetMenuItem("s1", "m1", "owner1", "Bibimbap", 9000, 50))
    await bus.handle(commands.SetMenuItem("s1", "m1", "owner1", "Bibimbap", 9500, 0))

    latest = uow.published[-1].event()
    assert (latest.price, latest.available, latest.revision) == (9500, False, 2)


async def test_setting_the_same_values_again_publishes_nothing_new(bus, uow):
    await bus.handle(commands.RegisterStore("s1", "owner1", "Hansik House", "gangnam"))
    await bus.handle(commands.SetMenuItem("s1", "m1", "owner1", "Bibimbap", 9000, 50))
    await bus.handle(commands.SetMenuItem("s1", "m1", "owner1", "Bibimbap", 9000, 50))

    assert len(uow.published) == 1


async def test_only_the_owner_sets_the_menu(bus, uow):
    await bus.handle(commands.RegisterStore("s1", "owner1", "Hansik House", "gangnam"))

    with pytest.raises(Forbidden):
        await bus.handle(commands.SetMenuItem("s1", "m1", "owner2", "Bibimbap", 9000, 50))
    assert uow.menu_items.rows == {}
    assert uow.published == []


async def test_an_unknown_store_has_no_menu(bus, uow):
    with pytest.raises(NotFound):
        await bus.handle(commands.SetMenuItem("nope", "m1", "owner1", "Bibimbap", 9000, 50))
