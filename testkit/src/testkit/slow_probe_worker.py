"""A Faust worker built from the shared plumbing whose one policy is slow: it marks
that it started (a file), takes PROBE_HANDLER_SECONDS inside its transaction, then
records the event. The graceful-stop test SIGTERMs it mid-handler. While the file
PROBE_INTERRUPT exists, the next handler is cancelled mid-way (and the file removed),
as the agent's task is when its process stops ungracefully.

    PROBE_NAME=probe-x PROBE_TOPIC=t PROBE_DB=/tmp/x.db PROBE_STARTED=/tmp/started \
        PROBE_WEB_PORT=6099 KAFKA=127.0.0.1:19092 python -m testkit.slow_probe_worker
"""

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

import faust
from sqlalchemy import Column, MetaData, String, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.consumer import DeadLetterPublisher, EventProcessor
from service_kit.db import create_engine, session_factory
from service_kit.faust_worker import create_worker_app
from service_kit.kernel import EventMeta
from service_kit.messagebus import MessageBus
from service_kit.tables import plumbing_metadata
from service_kit.uow import Repository, SqlAlchemyUnitOfWork, Trace
from shared_events.contract import OrderPlaced

NAME = os.environ["PROBE_NAME"]
STARTED = Path(os.environ["PROBE_STARTED"])
SECONDS = float(os.environ.get("PROBE_HANDLER_SECONDS", "3"))
INTERRUPT = Path(os.environ.get("PROBE_INTERRUPT", "/nonexistent"))
metadata = MetaData()
applied = Table(
    "applied",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("order_id", String(64), nullable=False),
)
engine = create_engine(f"sqlite+aiosqlite:///{os.environ['PROBE_DB']}")
sessions = session_factory(engine)


class ProbeUnitOfWork(SqlAlchemyUnitOfWork):
    def bind(self, session: AsyncSession) -> None:
        self.db = session

    def repositories(self) -> Iterable[Repository]:
        return ()


async def on_order_placed(event: OrderPlaced, meta: EventMeta, uow: ProbeUnitOfWork) -> None:
    with STARTED.open("a") as marks:
        marks.write(f"{event.order_id}\n")
    if INTERRUPT.exists():
        INTERRUPT.unlink()
        raise asyncio.CancelledError  # cut off inside its transaction
    await asyncio.sleep(SECONDS)  # the handler is in flight: the test stops us now
    await uow.db.execute(insert(applied).values(event_id=meta.event_id, order_id=event.order_id))


def unit_of_work(trace: Trace) -> ProbeUnitOfWork:
    return ProbeUnitOfWork(sessions, producer=NAME, trace=trace)


bus = MessageBus(unit_of_work, commands={}, policies={OrderPlaced: on_order_placed})


async def database_ready() -> bool:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


async def processor() -> EventProcessor:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(plumbing_metadata.create_all)
    return EventProcessor(
        NAME,
        bus,
        DeadLetterPublisher(NAME, os.environ["KAFKA"]),
        attempts=1,
    )


app = create_worker_app(
    NAME,
    [os.environ["PROBE_TOPIC"]],
    processor,
    bootstrap_servers=os.environ["KAFKA"],
    web_port=int(os.environ["PROBE_WEB_PORT"]),
    ready_checks={"database": database_ready},
    on_stop=engine.dispose,
)

if __name__ == "__main__":
    faust.Worker(app, loglevel="info").execute_from_commandline()
