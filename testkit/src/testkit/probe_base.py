"""What the probe workers (`testkit.probe_worker`, `testkit.slow_probe_worker`) share:
a worker built from the chassis, configured by the environment, whose policies
record each event they apply in one table of their own SQLite database.

    PROBE_NAME, PROBE_TOPIC, PROBE_DB, PROBE_WEB_PORT, KAFKA
"""

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, MetaData, Table, insert

from service_kit.consumer import DeadLetterPublisher, EventProcessor
from service_kit.db import create_engine, session_factory
from service_kit.kernel import EventMeta
from service_kit.messagebus import MessageBus, Policy
from service_kit.runtime import Check, configure_logging
from service_kit.tables import ID, UUID, key, plumbing_metadata
from service_kit.uow import SqlAlchemyUnitOfWork, Trace
from service_kit.worker import Worker
from service_kit.worker import run as run_worker
from shared_events.contract import Payload

NAME = os.environ["PROBE_NAME"]
KAFKA = os.environ["KAFKA"]
metadata = MetaData()
# One row per applied event: the tests count them.
applied = Table(
    "applied",
    metadata,
    key("event_id", UUID),
    Column("order_id", ID, nullable=False),
)
engine = create_engine(f"sqlite+aiosqlite:///{os.environ['PROBE_DB']}")
sessions = session_factory(engine)


def unit_of_work(trace: Trace) -> SqlAlchemyUnitOfWork:
    """No repositories: a probe's policy writes its table on the session."""
    return SqlAlchemyUnitOfWork(sessions, producer=NAME, trace=trace)


async def record(uow: SqlAlchemyUnitOfWork, meta: EventMeta, order_id: str) -> None:
    assert uow.session is not None
    await uow.session.execute(insert(applied).values(event_id=meta.event_id, order_id=order_id))


def worker_app(
    policies: Mapping[type[Payload], Policy[SqlAlchemyUnitOfWork]],
    *,
    ready_checks: Mapping[str, Check] | None = None,
    **retries: Any,
) -> Worker:
    """The probe's worker on PROBE_TOPIC, its policies on a real message bus (so
    the inbox applies each event once); `retries` go to its EventProcessor."""
    bus = MessageBus(unit_of_work, commands={}, policies=policies)

    async def processor() -> EventProcessor:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(plumbing_metadata.create_all)
        return EventProcessor(NAME, bus, DeadLetterPublisher(NAME, KAFKA), **retries)

    return Worker(
        NAME,
        [os.environ["PROBE_TOPIC"]],
        processor,
        bootstrap_servers=KAFKA,
        web_port=int(os.environ["PROBE_WEB_PORT"]),
        ready_checks=ready_checks,
        on_stop=engine.dispose,
    )


def run(worker: Worker) -> None:
    configure_logging(NAME)
    run_worker(worker)
