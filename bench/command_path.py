"""The command path of order, store and delivery in-process, for A/B runs in seconds:
N lifecycles' worth of one service's commands (through its bus, as the API runs
them: aiosqlite sessions) and of the events its worker consumes (through its
EventProcessor in batches, on the worker's inline sessions), on a real SQLite file
in a temporary directory, no broker. Prints CPU ms per lifecycle for each side.

    uv run python bench/command_path.py store --lifecycles 300 [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shared_events import contract
from shared_events.envelope import encode, wrap

STORE, OWNER, ITEM, CUSTOMER = "bench-store", "bench-owner", "m1", "bench-customer"
LINE = contract.OrderLine(
    menu_item_id=ITEM, name="Bibimbap", unit_price=9000, quantity=2, line_total=18000
)


@dataclass
class Flow:
    """One lifecycle as this service sees it: events its worker consumes (in the
    order they reach it) and commands its API takes, interleaved by stage."""

    order_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    rider_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def placed(flow: Flow) -> contract.Payload:
    return contract.OrderPlaced(
        order_id=flow.order_id,
        customer_id=CUSTOMER,
        store_id=STORE,
        items=[LINE],
        total_amount=18000,
        delivery_address=contract.DeliveryAddress(line="12 Teheran-ro", region="gangnam"),
        phone="010-0000-0000",
    )


def kitchen(flow: Flow) -> dict[str, str]:
    return {"order_id": flow.order_id, "store_id": STORE}


def riding(flow: Flow) -> dict[str, str]:
    return {"order_id": flow.order_id, "rider_id": flow.rider_id}


Stage = tuple[str, Callable[[Flow], Any]]  # "event" or "command", and how to make it


def store_stages() -> list[Stage]:
    from store_service.domain import commands as c

    return [
        ("event", placed),
        ("command", lambda f: c.DecideOrder(f.order_id, OWNER, accepted=True)),
        ("command", lambda f: c.StartCooking(f.order_id, OWNER)),
        ("command", lambda f: c.FinishCooking(f.order_id, OWNER)),
        ("event", lambda f: contract.DeliveryConfirmed(**riding(f))),
    ]


def delivery_stages() -> list[Stage]:
    from delivery_service.domain import commands as c

    return [
        ("event", placed),
        ("event", lambda f: contract.CookStarted(**kitchen(f))),
        ("command", lambda f: c.PickFood(f.order_id, f.rider_id)),
        ("command", lambda f: c.ConfirmDelivery(f.order_id, f.rider_id)),
    ]


def order_stages() -> list[Stage]:
    from order_service.domain import commands as c
    from order_service.domain.menu import RequestedItem
    from order_service.domain.model import DeliveryAddress

    def place(f: Flow) -> Any:
        return c.PlaceOrder(
            customer_id=CUSTOMER,
            store_id=STORE,
            items=(RequestedItem(ITEM, 2),),
            delivery_address=DeliveryAddress("12 Teheran-ro", "gangnam"),
            phone="010-0000-0000",
            card_token="tok_ok",
            idempotency_key=f.order_id,
        )

    return [
        ("command", place),
        ("event", lambda f: contract.OrderAccepted(**kitchen(f))),
        ("event", lambda f: contract.CookStarted(**kitchen(f))),
    ]


async def store_setup(bus: Any) -> None:
    from store_service.domain import commands as c

    await bus.handle(c.RegisterStore(STORE, OWNER, "Bench", "gangnam"))
    await bus.handle(c.SetMenuItem(STORE, ITEM, OWNER, "Bibimbap", 9000, 10**9))


async def order_setup(bus: Any) -> None:
    item = contract.MenuItemChanged(
        store_id=STORE,
        menu_item_id=ITEM,
        name="Bibimbap",
        price=9000,
        stock=10**9,
        available=True,
        revision=1,
    )
    await bus.handle_event(wrap(item, producer="bench"), item)


async def no_setup(bus: Any) -> None:
    return None


SERVICES: dict[str, tuple[str, Callable[[], list[Stage]], Callable[[Any], Awaitable[None]]]] = {
    "store": ("store_service.bootstrap", store_stages, store_setup),
    "delivery": ("delivery_service.bootstrap", delivery_stages, no_setup),
    "order": ("order_service.bootstrap", order_stages, order_setup),
}


class NoDeadLetters:
    async def park(self, message: object, error: BaseException, attempts: int) -> None:
        raise RuntimeError(f"parked: {error!r}")


def raw(event: contract.Payload, offset: int) -> Any:
    from service_kit.consumer import RawMessage
    from service_kit.outbox import message_headers

    return RawMessage(
        event.topic,
        0,
        offset,
        event.aggregate_id.encode(),
        encode(wrap(event, producer="bench")),
        tuple(message_headers(event.event_type, event.event_version)),
    )


async def run(args: argparse.Namespace) -> None:
    import importlib

    from service_kit.consumer import EventProcessor

    module, stages_of, setup = SERVICES[args.service]
    bootstrap = importlib.import_module(module).bootstrap
    api, worker = bootstrap(), bootstrap()
    worker.platform.write_inline()
    await api.platform.migrate()
    await setup(api.bus)
    processor = EventProcessor(f"{args.service}-service", worker.bus, NoDeadLetters())
    # Place an order's id where the order-service makes it itself.
    flows = [Flow() for _ in range(args.lifecycles)]
    stages = stages_of()
    spent = {"command": 0.0, "event": 0.0}
    profile = cProfile.Profile() if args.profile else None
    offset = 0
    for start in range(0, len(flows), args.batch):
        group = flows[start : start + args.batch]
        for kind, make in stages:
            if profile and kind == args.side:
                profile.enable()
            began = time.process_time()
            if kind == "event":
                batch = [raw(make(f), offset + i) for i, f in enumerate(group)]
                offset += len(batch)
                outcomes = await processor.process_batch(batch)
                bad = [o for o in outcomes if o.status not in ("applied", "skipped")]
                assert not bad, bad
            else:
                for f in group:
                    result = await api.bus.handle(make(f))
                    if args.service == "order" and stages.index((kind, make)) == 0:
                        f.order_id = result.order_id
            spent[kind] += time.process_time() - began
            if profile:
                profile.disable()
    if profile:
        profile.dump_stats(args.profile)
    await api.platform.dispose()
    await worker.platform.dispose()
    n = args.lifecycles
    print(
        f"{args.service}: {n} lifecycles: API commands {spent['command'] * 1000 / n:.2f} "
        f"CPU ms/lifecycle, worker events {spent['event'] * 1000 / n:.2f} CPU ms/lifecycle "
        f"(batches of {args.batch})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--profile")
    parser.add_argument("--side", choices=("command", "event"), default="command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        os.environ["FOODDELIVERY_DATA_DIR"] = data
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
