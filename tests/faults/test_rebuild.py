"""mypage's read model, thrown away and rebuilt from the topics, equals the live one.

With the real system running, twenty orders go through every ending the board
knows (delivered, rejected, cancelled before and after acceptance, returned after
pick-up and after delivery), the customer watching mypage after each step. Then
the rebuild command runs as its own process against the system's broker into a
fresh SQLite file, and its view is compared with the live mypage database row by
row: the live worker (consuming as events came) and a replay from the beginning
(three topics in whatever interleaving the fetcher gives) must agree.

Only this test's orders are compared: other fault tests share the broker, and
what they break on purpose is theirs to judge.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mypage_service.adapters.databases import reader_engine
from mypage_service.adapters.orm import notifications, order_status
from mypage_service.adapters.read_model_diff import compare_read_models
from testkit.actors import Customer, Rider, StoreOwner, wait_for
from testkit.world import STEP_STATUS as STATUS

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

ROOT = Path(__file__).resolve().parents[2]
REGION = "gangnam"
COOKED = ("accept", "cook", "finish", "pick")
LIFECYCLES: dict[str, tuple[str, ...]] = {
    "delivered": (*COOKED, "confirm"),
    "rejected": ("reject",),
    "cancelled before acceptance": ("cancel",),
    "cancelled after acceptance": ("accept", "cancel"),
    "returned after pick-up": (*COOKED, "return"),
    "returned after delivery": (*COOKED, "confirm", "return"),
}
MIX = (
    ["delivered"] * 6
    + ["rejected"] * 4
    + ["cancelled before acceptance"] * 3
    + ["cancelled after acceptance"] * 3
    + ["returned after pick-up"] * 2
    + ["returned after delivery"] * 2
)


class Kitchen:
    """One store and its owner; customers and riders come per order."""

    def __init__(self, http: httpx.AsyncClient, system: Any) -> None:
        self.http, self.at = http, system.endpoints
        self.tag = uuid.uuid4().hex[:8]
        self.store, self.item = f"rebuild-{self.tag}", f"bibimbap-{self.tag}"
        self.owner = StoreOwner(http, self.at, f"owner-{self.tag}")

    async def open(self) -> None:
        assert (await self.owner.register_store(self.store, "Replay House", REGION)).is_success
        r = await self.owner.set_menu_item(self.store, self.item, "Bibimbap", 9000, 10_000)
        assert r.status_code == 200, r.text

    async def drive(self, i: int, steps: tuple[str, ...]) -> tuple[str, Customer]:
        """Place one order and take its steps, each once its actor can see what it acts
        on; the customer watches mypage show every new status before the next step."""
        customer = Customer(self.http, self.at, f"cust-{self.tag}-{i % 4}")
        rider = Rider(self.http, self.at, f"rider-{self.tag}-{i}")

        async def priced() -> httpx.Response | None:
            r = await customer.place_order(
                self.store, [(self.item, 1 + i % 3)], idempotency_key=f"{self.tag}-{i}"
            )
            return r if r.status_code in (200, 201) else None  # 422: menu not replicated yet

        order_id = (await wait_for(priced, within=60, what="the menu replica")).json()["order_id"]
        await self._watch(customer, order_id, "PLACED")
        act = {
            "accept": lambda: self.owner.accept(order_id),
            "reject": lambda: self.owner.reject(order_id, "sold out"),
            "cook": lambda: self.owner.start_cooking(order_id),
            "finish": lambda: self.owner.finish_cooking(order_id),
            "pick": lambda: rider.pick(order_id),
            "confirm": lambda: rider.confirm(order_id),
            "return": lambda: rider.return_food(order_id, "customer refused"),
            "cancel": lambda: customer.cancel(order_id),
        }
        for step in steps:
            if step in ("accept", "reject"):
                await wait_for(
                    lambda: self.owner.ticket_arrived(self.store, order_id),
                    within=60,
                    what="the ticket",
                )
            if step == "pick":

                async def offered() -> bool:
                    r = await rider.delivery(order_id)
                    return r.status_code == 200 and r.json()["status"] == "WAITING"

                await wait_for(offered, within=60, what="the delivery offered")
            r = await act[step]()
            assert r.status_code == 200, f"{step}: {r.status_code} {r.text}"
            await self._watch(customer, order_id, STATUS[step])
        return order_id, customer

    @staticmethod
    async def _watch(customer: Customer, order_id: str, status: str) -> None:
        async def shown() -> bool:
            page = await customer.status_page(order_id)
            return page is not None and page["status"] == status

        await wait_for(shown, within=60, what=f"mypage to show {status}")


async def rows(url: str, table: Any, orders: list[str]) -> dict[tuple, dict[str, Any]]:
    engine = reader_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(table).where(table.c.order_id.in_(orders)))
            return {(r.order_id, getattr(r, "status", None)): dict(r._mapping) for r in found}
    finally:
        await engine.dispose()


async def test_a_rebuild_from_the_topics_equals_the_live_read_model(http, system, tmp_path):
    kitchen = Kitchen(http, system)
    await kitchen.open()
    driven = await asyncio.gather(
        *(kitchen.drive(i, LIFECYCLES[name]) for i, name in enumerate(MIX))
    )
    orders = [order_id for order_id, _ in driven]
    finals = {
        order_id: STATUS[LIFECYCLES[name][-1]]
        for (order_id, _), name in zip(driven, MIX, strict=True)
    }

    # Every message decided (one per status: the customer saw each) is sent before
    # the rebuild copies the log.
    customers = {c.id: c for _, c in driven}.values()
    messages = sum(1 + len(LIFECYCLES[name]) for name in MIX)

    async def all_sent() -> bool:
        listed = [n for c in customers for n in await c.notifications()]
        mine = [n for n in listed if n["order_id"] in finals]
        return len(mine) == messages and all(n["state"] == "SENT" for n in mine)

    await wait_for(all_sent, within=60, what="the live notifications sent")

    live = f"sqlite:///{system.data_dir / 'db' / 'mypage-service.db'}"
    target = f"sqlite:///{tmp_path / 'mypage-rebuilt.db'}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, "-m", "mypage_service.entrypoints.rebuild"]
    command += ["--bootstrap", system.bootstrap, "--database-url", target, "--live-url", live]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "messages read" in done.stdout and f"DATABASE_URL={target}" in done.stdout
    assert "replaying: 100%" in done.stderr  # the progress bar ran to its total

    comparison = await compare_read_models(live, target, order_ids=orders)
    assert comparison.identical, str(comparison)
    assert comparison.orders == len(MIX)
    rebuilt = await rows(target, order_status, orders)
    assert {order_id: row["status"] for (order_id, _), row in rebuilt.items()} == finals

    # The customers' message history came over as it was: all sent, none owed.
    live_log = await rows(live, notifications, orders)
    assert len(live_log) == messages
    assert await rows(target, notifications, orders) == live_log
