"""A worker built from the shared plumbing whose one policy is slow: it marks
that it started (a file), takes PROBE_HANDLER_SECONDS inside its transaction, then
records the event. The graceful-stop test SIGTERMs it mid-handler. While the file
PROBE_INTERRUPT exists, the next handler is cancelled mid-way (and the file removed),
as the agent's task is when its process stops ungracefully.

    PROBE_NAME=probe-x PROBE_TOPIC=t PROBE_DB=/tmp/x.db PROBE_STARTED=/tmp/started \
        PROBE_WEB_PORT=6099 KAFKA=127.0.0.1:19092 python -m testkit.slow_probe_worker
"""

import asyncio
import os
from pathlib import Path

from sqlalchemy import text

from service_kit.kernel import EventMeta
from service_kit.uow import SqlAlchemyUnitOfWork
from shared_events.contract import OrderPlaced
from testkit.probe_base import engine, record, run, worker_app

STARTED = Path(os.environ["PROBE_STARTED"])
SECONDS = float(os.environ.get("PROBE_HANDLER_SECONDS", "3"))
INTERRUPT = Path(os.environ.get("PROBE_INTERRUPT", "/nonexistent"))


async def on_order_placed(event: OrderPlaced, meta: EventMeta, uow: SqlAlchemyUnitOfWork) -> None:
    with STARTED.open("a") as marks:
        marks.write(f"{event.order_id}\n")
    if INTERRUPT.exists():
        INTERRUPT.unlink()
        raise asyncio.CancelledError  # cut off inside its transaction
    await asyncio.sleep(SECONDS)  # the handler is in flight: the test stops us now
    await record(uow, meta, event.order_id)


async def database_ready() -> bool:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


app = worker_app(
    {OrderPlaced: on_order_placed}, ready_checks={"database": database_ready}, attempts=1
)

if __name__ == "__main__":
    run(app)
