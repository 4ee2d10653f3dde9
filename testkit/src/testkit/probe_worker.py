"""A Faust worker built from the shared plumbing, with one idempotent policy and one
that always fails. The consumer test runs it as a real process.

    PROBE_NAME=probe-x PROBE_TOPIC=t PROBE_DB=/tmp/x.db KAFKA=127.0.0.1:19092 \
        python -m testkit.probe_worker
"""

import os

from service_kit.inbox import apply_once
from testkit.probe_base import record, run, unit_of_work, worker_app


async def on_order_placed(envelope, event) -> None:
    uow = unit_of_work(envelope)
    await apply_once(uow, envelope, lambda: record(uow, envelope, event.order_id))


async def on_order_cancelled(envelope, event) -> None:
    # Broken for good, or (with PROBE_BROKEN_FLAG) while that file exists: the "fix".
    flag = os.environ.get("PROBE_BROKEN_FLAG")
    if flag is None or os.path.exists(flag):
        raise RuntimeError("probe: the cancellation policy is broken")
    uow = unit_of_work(envelope)
    return await apply_once(
        uow, envelope, lambda: record(uow, envelope, f"cancelled:{event.order_id}")
    )


app = worker_app(
    {"OrderPlaced": on_order_placed, "OrderCancelled": on_order_cancelled},
    attempts=3,
    backoff_multiplier=0.01,
    backoff_max=0.05,
)

if __name__ == "__main__":
    run(app)
