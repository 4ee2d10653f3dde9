"""A Faust worker built from the shared plumbing, with one idempotent policy and one
that always fails. The consumer test runs it as a real process.

    PROBE_NAME=probe-x PROBE_TOPIC=t PROBE_DB=/tmp/x.db KAFKA=127.0.0.1:19092 \
        python -m testkit.probe_worker
"""

import os
from collections.abc import Iterable

import faust
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.consumer import DeadLetterPublisher, EventProcessor
from service_kit.db import create_engine, session_factory
from service_kit.faust_worker import create_worker_app
from service_kit.kernel import EventMeta
from service_kit.messagebus import MessageBus
from service_kit.tables import plumbing_metadata
from service_kit.uow import Repository, SqlAlchemyUnitOfWork, Trace
from shared_events.contract import OrderCancelled, OrderPlaced

NAME = os.environ["PROBE_NAME"]
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
    await uow.db.execute(insert(applied).values(event_id=meta.event_id, order_id=event.order_id))


async def on_order_cancelled(event: OrderCancelled, meta: EventMeta, uow: ProbeUnitOfWork) -> None:
    # Broken for good, or (with PROBE_BROKEN_FLAG) while that file exists: the "fix".
    flag = os.environ.get("PROBE_BROKEN_FLAG")
    if flag is None or os.path.exists(flag):
        raise RuntimeError("probe: the cancellation policy is broken")
    await uow.db.execute(
        insert(applied).values(event_id=meta.event_id, order_id=f"cancelled:{event.order_id}")
    )


def unit_of_work(trace: Trace) -> ProbeUnitOfWork:
    return ProbeUnitOfWork(sessions, producer=NAME, trace=trace)


bus = MessageBus(
    unit_of_work,
    commands={},
    policies={OrderPlaced: on_order_placed, OrderCancelled: on_order_cancelled},
)


async def processor() -> EventProcessor:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(plumbing_metadata.create_all)
    return EventProcessor(
        NAME,
        bus,
        DeadLetterPublisher(NAME, os.environ["KAFKA"]),
        attempts=3,
        backoff_multiplier=0.01,
        backoff_max=0.05,
    )


app = create_worker_app(
    NAME,
    [os.environ["PROBE_TOPIC"]],
    processor,
    bootstrap_servers=os.environ["KAFKA"],
    web_port=int(os.environ["PROBE_WEB_PORT"]),
    on_stop=engine.dispose,
)

if __name__ == "__main__":
    faust.Worker(app, loglevel="info").execute_from_commandline()
