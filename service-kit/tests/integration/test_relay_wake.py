"""On PostgreSQL a commit that staged events wakes the relay wherever it runs:
NOTIFY in the staging transaction, LISTEN in the relay (never for a rollback)."""

from sqlalchemy import text

from service_kit.db import create_engine, session_factory
from service_kit.wake import NotifyWake, relay_wake
from testkit import eventually


async def test_a_notify_in_the_staging_transaction_wakes_the_listener_at_commit(postgres):
    url = postgres.reset("service_kit_wake_test")
    wake = relay_wake(url, "order-service", "127.0.0.1", 0)
    assert isinstance(wake, NotifyWake)
    wakes = 0

    def woken() -> None:
        nonlocal wakes
        wakes += 1

    stop = await wake.listen(woken)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            await wake.staged(session)
            await session.execute(text("SELECT 1"))
            await session.rollback()  # rolled back: never delivered
        async with sessions() as session, session.begin():
            await wake.staged(session)

        async def delivered() -> bool:
            return wakes >= 1

        await eventually(delivered, within=10, what="the NOTIFY of the committed transaction")
        # Notifications arrive in commit order: the rolled-back one would have been first.
        assert wakes == 1
    finally:
        await stop()
        await engine.dispose()
