"""A pooled PostgreSQL connection the server closed is replaced at checkout, with no
ping per checkout: once the loop has read the connection's end, the next unit of work
runs on a fresh connection. (Between the server's goodbye message and the socket's end
there are a few loop turns; a checkout in them fails once, like a connection lost
mid-use. The test waits for the end, which is what the check claims to see.)"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service_kit.db import create_engine, session_factory
from testkit import PostgresServer
from testkit.waiting import eventually

PID = text("SELECT pg_backend_pid()")


@pytest.fixture
async def engines(postgres: PostgresServer):
    url = postgres.reset("test_service_kit_pool")
    made, admin = create_engine(url), create_engine(url)
    yield made, admin
    await made.dispose()
    await admin.dispose()


async def test_a_connection_the_server_closed_is_replaced_at_checkout(engines):
    engine, admin_engine = engines
    sessions = session_factory(engine)
    async with sessions() as session:
        before = (await session.execute(PID)).scalar_one()
        pooled = (await (await session.connection()).get_raw_connection()).driver_connection
        await session.commit()
    assert engine.sync_engine.pool.checkedout() == 0  # back in the pool, idle

    async with admin_engine.connect() as admin:  # another process ends the pooled one
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
        await admin.commit()

    async def closed() -> bool:  # the server ended it, and the loop has read its end
        async with admin_engine.connect() as admin:
            found = await admin.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": before}
            )
            return found.scalar_one() == 0 and pooled.is_closed()

    await eventually(closed, within=10, interval=0.05, what="the pooled connection to end")
    async with sessions() as session:  # no error: a fresh connection, not the dead one
        after = (await session.execute(PID)).scalar_one()
    assert after != before
