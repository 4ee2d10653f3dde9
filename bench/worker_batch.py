"""A worker's batch path in-process, for A/B runs in seconds: N order lifecycles as
encoded messages (with the relay's headers) through mypage's EventProcessor.process_batch
on a real SQLite file in a temporary directory, the worker's inline sessions, no
broker. Prints CPU ms per lifecycle and per event, and the batch transaction's p50/p99.

    uv run python bench/worker_batch.py --lifecycles 500 --batch 8 [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import tempfile
import time
import uuid

from shared_events import contract
from shared_events.envelope import encode, wrap

# One lifecycle as mypage sees it (every event of an order), and one it skips.
SKIPPED = contract.MenuItemChanged(
    store_id="s1",
    menu_item_id="m1",
    name="Bibimbap",
    price=9000,
    stock=5,
    available=True,
    revision=1,
)


def lifecycle() -> list[contract.Payload]:
    order, customer, store, rider = (str(uuid.uuid4()) for _ in range(4))
    kitchen = {"order_id": order, "store_id": store}
    riding = {"order_id": order, "rider_id": rider}
    line = contract.OrderLine(
        menu_item_id="m1", name="Bibimbap", unit_price=9000, quantity=2, line_total=18000
    )
    return [
        contract.OrderPlaced(
            order_id=order,
            customer_id=customer,
            store_id=store,
            items=[line],
            total_amount=18000,
            delivery_address=contract.DeliveryAddress(line="12 Teheran-ro", region="gangnam"),
            phone="010-0000-0000",
        ),
        contract.OrderAccepted(**kitchen),
        contract.CookStarted(**kitchen),
        contract.CookFinished(**kitchen),
        contract.FoodPicked(**riding),
        contract.DeliveryConfirmed(**riding),
        SKIPPED,
    ]


def messages(lifecycles: int, interleave: int) -> list[object]:
    """`interleave` lifecycles in flight at once, their events alternating, as under load."""
    from service_kit.consumer import RawMessage
    from service_kit.outbox import message_headers

    out: list[object] = []
    offset = 0
    for start in range(0, lifecycles, interleave):
        flows = [lifecycle() for _ in range(min(interleave, lifecycles - start))]
        for step in range(len(flows[0])):
            for flow in flows:
                event = flow[step]
                envelope = wrap(event, producer="bench")
                out.append(
                    RawMessage(
                        event.topic,
                        0,
                        offset,
                        event.aggregate_id.encode(),
                        encode(envelope),
                        tuple(message_headers(event.event_type, event.event_version)),
                    )
                )
                offset += 1
    return out


class NoDeadLetters:
    async def park(self, message: object, error: BaseException, attempts: int) -> None:
        raise RuntimeError(f"parked: {error!r}")


async def run(args: argparse.Namespace) -> None:
    from mypage_service.bootstrap import bootstrap
    from service_kit.consumer import EventProcessor

    container = bootstrap()
    platform = container.platform
    platform.write_inline()
    await platform.migrate()
    processor = EventProcessor("mypage-service", container.bus, NoDeadLetters())
    feed = messages(args.lifecycles, args.interleave)
    batches = [feed[i : i + args.batch] for i in range(0, len(feed), args.batch)]
    times: list[float] = []
    profile = cProfile.Profile() if args.profile else None
    cpu = time.process_time()
    if profile:
        profile.enable()
    for batch in batches:
        began = time.perf_counter()
        outcomes = await processor.process_batch(batch)  # type: ignore[arg-type]
        times.append(time.perf_counter() - began)
        bad = [o for o in outcomes if o.status not in ("applied", "skipped")]
        assert not bad, bad
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    used = time.process_time() - cpu
    await platform.dispose()
    qs = statistics.quantiles(times, n=100)
    print(
        f"{args.lifecycles} lifecycles, {len(feed)} messages in batches of {args.batch}: "
        f"{used * 1000 / args.lifecycles:.2f} CPU ms/lifecycle, "
        f"{used * 1e6 / len(feed):.0f} us/message; batch p50 {qs[49] * 1000:.2f} ms "
        f"p99 {qs[98] * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--interleave", type=int, default=20)
    parser.add_argument("--profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        os.environ["FOODDELIVERY_DATA_DIR"] = data
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
