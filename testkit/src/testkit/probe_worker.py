"""A worker built from the shared plumbing, with one idempotent policy and one
that always fails. The consumer test runs it as a real process.

    PROBE_NAME=probe-x PROBE_TOPIC=t PROBE_DB=/tmp/x.db KAFKA=127.0.0.1:19092 \
        python -m testkit.probe_worker
"""

import os

from service_kit.kernel import EventMeta
from service_kit.uow import SqlAlchemyUnitOfWork
from shared_events.contract import OrderCancelled, OrderPlaced
from testkit.probe_base import record, run, worker_app


async def on_order_placed(event: OrderPlaced, meta: EventMeta, uow: SqlAlchemyUnitOfWork) -> None:
    await record(uow, meta, event.order_id)


async def on_order_cancelled(
    event: OrderCancelled, meta: EventMeta, uow: SqlAlchemyUnitOfWork
) -> None:
    # Broken for good, or (with PROBE_BROKEN_FLAG) while that file exists: the "fix".
    flag = os.environ.get("PROBE_BROKEN_FLAG")
    if flag is None or os.path.exists(flag):
        raise RuntimeError("probe: the cancellation policy is broken")
    await record(uow, meta, f"cancelled:{event.order_id}")


app = worker_app(
    {OrderPlaced: on_order_placed, OrderCancelled: on_order_cancelled},
    attempts=3,
    backoff_multiplier=0.01,
    backoff_max=0.05,
)

if __name__ == "__main__":
    run(app)
