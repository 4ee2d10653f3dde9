"""How long from the `POST /orders` response until mypage shows the order.

Against a running system (`make run` in another terminal):

    uv run python bench/latency.py --orders 20

Signs up its own store owner and customer at identity-service, sets up a store and
menu item, places N orders one after another and
polls `GET /mypage/orders/{id}` every 5 ms for each; prints the distribution and
writes a JSON report to .local/reports/ (or --report-dir).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from testkit.actors import Customer, Endpoints, StoreOwner, wait_for
from testkit.reports import write_report


async def run(args: argparse.Namespace) -> dict:
    tag = uuid.uuid4().hex[:8]
    store, item = f"bench-{tag}", f"dish-{tag}"
    at = Endpoints(order=args.order, store=args.store, mypage=args.mypage, identity=args.identity)
    async with httpx.AsyncClient(timeout=10) as http:
        owner = StoreOwner(http, at, f"bench-owner-{tag}")
        customer = Customer(http, at, f"bench-customer-{tag}")
        (await owner.register_store(store, "Bench Bistro", "gangnam")).raise_for_status()
        (await owner.set_menu_item(store, item, "Kimbap", 4500, 100_000)).raise_for_status()

        async def priced() -> bool:  # the order-service's menu replica fills from MenuItemChanged
            return (await customer.place_order(store, [(item, 1)])).status_code == 201

        await wait_for(priced, within=60, what="the menu to reach the order-service")

        samples = []
        for _ in range(args.orders):
            r = await customer.place_order(store, [(item, 1)])
            r.raise_for_status()
            responded = time.perf_counter()
            order_id = r.json()["order_id"]
            mypage = f"{args.mypage}/mypage/orders/{order_id}"
            while (await customer.request("GET", mypage)).status_code != 200:
                if time.perf_counter() - responded > 30:
                    raise SystemExit(f"order {order_id} never reached mypage")
                await asyncio.sleep(0.005)
            samples.append((time.perf_counter() - responded) * 1000)

    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "what": "POST /orders response -> GET /mypage/orders/{id} returns 200",
        "orders": args.orders,
        "median_ms": round(statistics.median(samples), 1),
        "p90_ms": round(sorted(samples)[int(0.9 * (len(samples) - 1))], 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "samples_ms": [round(s, 1) for s in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--order", default="http://127.0.0.1:8081")
    parser.add_argument("--store", default="http://127.0.0.1:8082")
    parser.add_argument("--mypage", default="http://127.0.0.1:8084")
    parser.add_argument("--identity", default="http://127.0.0.1:8085")
    parser.add_argument(
        "--report-dir", type=Path, help="where the JSON report goes (default: .local/reports/)"
    )
    args = parser.parse_args()
    report = asyncio.run(run(args))
    stamp = report["measured_at"][:19].replace(":", "")
    path = write_report(f"latency-{stamp}", report, args.report_dir)
    print(
        f"POST /orders -> mypage shows it, {report['orders']} orders: "
        f"median {report['median_ms']} ms, p90 {report['p90_ms']} ms, "
        f"min {report['min_ms']} ms, max {report['max_ms']} ms  ({path})"
    )


if __name__ == "__main__":
    main()
