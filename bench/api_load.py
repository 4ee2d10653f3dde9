"""The store or the order API as a real process (uvicorn, the real edge, its outbox
relay on a fresh broker, a SQLite file), its actors' commands driven at a steady rate
over HTTP: its CPU ms per lifecycle from /proc, the idle baseline apart.

A lifecycle here is the store API's share of one: PUT acceptance, cooking-start,
cooking-finish (each publishing its event through the relay) and `--polls` looks at
the owner's inbox (`GET /stores/{id}/orders?status=RECEIVED`). The tickets are seeded
beforehand through the bus (the worker's part), their outbox rows marked sent.
With `--service order` it is the order API's `POST /orders` alone (the store's menu
seeded as the worker's replica of it; each order's OrderPlaced through the relay).

    TEST_KAFKA_PORT=19500 uv run python bench/api_load.py --rate 20 --seconds 20
    (--service order: POST /orders)
    (--rounds 3 --b-env KEY=VALUE: A/B interleaved, each round a fresh API and database;
     --pid-file F writes the API's pid, e.g. for py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from command_path import (  # beside this script
    CUSTOMER,
    ITEM,
    OWNER,
    STORE,
    Flow,
    order_setup,
    placed,
    store_setup,
)
from worker_load import (  # beside this script
    ab_rounds,
    broker_pid,
    cpu_seconds,
    ready,
    start_logged,
)

from testkit import TEST_KAFKA_PORT, tokens

PORTS = {"store": 8082 + 6200, "order": 8081 + 6200}


def serve(port: int, service: str) -> None:
    """The API process: the service's app as its `-api` serves it, verifying the tokens
    of the driver's testkit issuer (its key set in BENCH_JWKS)."""
    import importlib

    from service_kit.auth import ResourceServer
    from service_kit.http import serve as serve_api

    bootstrap = importlib.import_module(f"{service}_service.bootstrap").bootstrap
    create_app = importlib.import_module(f"{service}_service.entrypoints.api").create_app
    os.environ["HTTP_PORT"] = str(port)
    verifier = ResourceServer.with_keys(tokens.SETTINGS, json.loads(os.environ["BENCH_JWKS"]))
    serve_api(bootstrap(), lambda c: create_app(c, resource_server=verifier))


def bootstrap_of(service: str) -> Any:
    import importlib

    return importlib.import_module(f"{service}_service.bootstrap").bootstrap()


async def seed(service: str, n: int) -> list[str]:
    """Store: `n` RECEIVED tickets, as the worker leaves them. Order: the store's menu
    replica, and `n` idempotency keys. Nothing left to publish."""
    from sqlalchemy import update

    from service_kit.tables import outbox
    from shared_events.envelope import utcnow, wrap

    container = bootstrap_of(service)
    await container.platform.migrate()
    flows = [Flow() for _ in range(n)]
    if service == "order":
        await order_setup(container.bus)
    else:
        await store_setup(container.bus)
        for flow in flows:
            event = placed(flow)
            await container.bus.handle_event(wrap(event, producer="bench"), event)
    async with container.platform.writes.begin() as session:
        await session.execute(update(outbox).values(published_at=utcnow()))
    await container.platform.dispose()
    return [f.order_id for f in flows]


async def drive(service: str, port: int, orders: list[str], rate: float, polls: int) -> None:
    headers = tokens.customer(CUSTOMER) if service == "order" else tokens.owner(OWNER)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits
    ) as client:

        async def call(method: str, url: str, **kwargs: Any) -> None:
            # A kept-alive connection the server closed as it was reused: once more (a
            # step that had gone through is then a 409).
            for attempt in range(2):
                try:
                    r = await client.request(method, url, **kwargs)
                except httpx.TransportError:
                    if attempt:
                        raise
                    continue
                assert r.status_code in (200, 201) or (attempt and r.status_code == 409), r.text
                return

        async def place(key: str) -> None:
            await call(
                "POST",
                "/orders",
                headers={"Idempotency-Key": key},
                json={
                    "store_id": STORE,
                    "items": [{"menu_item_id": ITEM, "quantity": 2}],
                    "delivery_address": {"line": "12 Teheran-ro", "region": "gangnam"},
                    "phone": "010-1234-5678",
                    "payment": {"card_token": "tok_ok"},
                },
            )

        async def one(order_id: str) -> None:
            for _ in range(polls):
                await call("GET", f"/stores/{STORE}/orders", params={"status": "RECEIVED"})
            for step, body in (
                ("acceptance", {"accepted": True}),
                ("cooking-start", None),
                ("cooking-finish", None),
            ):
                await call("PUT", f"/store-orders/{order_id}/{step}", json=body)
                await asyncio.sleep(0.02)  # the owner's next step, a little later

        tasks = []
        began = time.monotonic()
        for i, order_id in enumerate(orders):
            tasks.append(asyncio.create_task((place if service == "order" else one)(order_id)))
            await asyncio.sleep(max(0.0, began + (i + 1) / rate - time.monotonic()))
        await asyncio.gather(*tasks)


async def published(service: str, within: float = 60) -> None:
    """Until the API's relay has nothing left to send (read from the shared file)."""
    relay = bootstrap_of(service).platform.relay
    assert relay is not None
    deadline = time.monotonic() + within
    while await relay.pending():
        if time.monotonic() > deadline:
            raise TimeoutError("the relay never caught up")
        await asyncio.sleep(0.2)


def snapshot(pid: int, kafka: int) -> tuple[float, ...]:
    """Now: wall time, the API's CPU (all threads, its main thread), the broker's CPU."""
    return time.monotonic(), cpu_seconds(pid), cpu_seconds(pid, pid), cpu_seconds(kafka)


async def measure(args: argparse.Namespace, pid: int, orders: list[str], label: str) -> None:
    await ready(args.port)
    await asyncio.sleep(2)  # the start's own work (migrations, the relay's first look)
    kafka = broker_pid(args.kafka_port)
    before_idle = snapshot(pid, kafka)
    await asyncio.sleep(args.idle)
    before = snapshot(pid, kafka)
    idle = (before[1] - before_idle[1]) / (before[0] - before_idle[0])
    await drive(args.service, args.port, orders, args.rate, args.polls)
    await published(args.service)
    wall, used, on_main, on_broker = (
        b - a for a, b in zip(before, snapshot(pid, kafka), strict=True)
    )
    n = len(orders)
    print(
        f"{label}{n} lifecycles at {args.rate}/s: {args.service} API "
        f"{used * 1000 / n:.2f} CPU ms/lifecycle "
        f"({(used - idle * wall) * 1000 / n:.2f} above its idle {idle * 1000:.1f} ms/s; "
        f"main thread {on_main * 1000 / n:.2f}, other threads {(used - on_main) * 1000 / n:.2f}); "
        f"broker {on_broker * 1000 / n:.2f}",
        flush=True,
    )


def start_api(args: argparse.Namespace, bootstrap: str, data: str, extra: dict[str, str]) -> Any:
    env = {
        **os.environ,
        **extra,
        "FOODDELIVERY_DATA_DIR": data,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "OTEL_SDK_DISABLED": "true",
        # No worker runs: its readiness check asks the API's own liveness instead.
        "WORKER_HEALTH_URL": f"http://127.0.0.1:{args.port}/health/live",
        "BENCH_JWKS": json.dumps(tokens.jwks()),
    }
    argv = [sys.executable, __file__, "--serve", str(args.port), "--service", args.service]
    return start_logged(argv, env, Path(data) / "api.log", args.pid_file)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", choices=sorted(PORTS), default="store")
    parser.add_argument("--rate", type=float, default=20.0, help="lifecycles per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--polls", type=int, default=1, help="inbox looks per lifecycle")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle baseline")
    parser.add_argument("--kafka-port", type=int, default=TEST_KAFKA_PORT)
    parser.add_argument("--port", type=int, help="the API's (its usual + 6200)")
    parser.add_argument("--pid-file")
    parser.add_argument("--rounds", type=int, default=0, help="A/B rounds (with --b-env)")
    parser.add_argument("--b-env", action="append", default=[], help="KEY=VALUE for B")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the API process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.service)
        return
    args.port = args.port or PORTS[args.service]
    for label, extra, bootstrap, data in ab_rounds(args):
        orders = asyncio.run(seed(args.service, int(args.rate * args.seconds)))
        api = start_api(args, bootstrap, data, extra)
        try:
            asyncio.run(measure(args, api.pid, orders, label))
        finally:
            api.terminate()
            api.wait(30)


if __name__ == "__main__":
    main()
