"""Did every order end where its scenario says, exactly once everywhere? The checks
behind testkit.load and the fault tests (tests/faults), over HTTP and
the topics, and the fault table's rows.

A check that fails is counted as *lost* (something expected is missing: an event,
a status, a notification, stock not moved), *duplicated* (something is there
twice, or stock moved twice), or *other* (present once, but wrong).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from aiokafka import TopicPartition

from shared_events import decode
from shared_events.contract import MenuItemChanged
from shared_events.topics import DELIVERY_EVENTS, EVENT_TOPICS, ORDER_EVENTS, STORE_EVENTS
from testkit import committed_offsets, read_to_end
from testkit.actors import Customer, wait_for
from testkit.reports import write_report
from testkit.world import Plan, World

LIST_PAGE = 100  # mypage's largest page of a customer's orders


@dataclass
class Verdict:
    """How the orders ended: `checks` passed, and what was `lost` or `duplicated`."""

    orders: int = 0
    checks: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # wrong, but neither lost nor doubled

    def expect(self, ok: bool, kind: str, what: str) -> bool:
        if ok:
            self.checks += 1
        else:
            {"lost": self.lost, "duplicated": self.duplicated}.get(kind, self.other).append(what)
        return ok

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.other)

    def row(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "final_states_checked": self.checks,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "other_problems": len(self.other),
            "problems": (self.lost + self.duplicated + self.other)[:30],
        }


def _compare(verdict: Verdict, what: str, got: list[str], want: tuple[str, ...]) -> None:
    """A missing entry is lost, one seen twice is duplicated, anything else is wrong."""
    counts = Counter(got)
    missing = [s for s in want if s not in counts]
    doubled = [s for s, n in counts.items() if n > 1]
    verdict.expect(not missing, "lost", f"{what}: missing {missing} (got {got})")
    verdict.expect(not doubled, "duplicated", f"{what}: twice {doubled} (got {got})")
    if not missing and not doubled:
        verdict.expect(got == list(want), "other", f"{what}: {got} != {list(want)}")


async def converge(world: World, *, within: float = 120, lanes: int = 10) -> Verdict:
    """Wait (up to `within`) until every placed order looks finished everywhere, then
    check each against its scenario: mypage status, timeline and order list,
    notifications (decided and sent), order and payment, ticket, delivery; and
    each store's stock."""
    verdict = Verdict(orders=len(world.orders))
    deadline = time.monotonic() + within
    queue = list(world.orders)

    async def lane() -> None:
        while queue:
            plan = queue.pop()
            looked = await _poll(partial(_looks_finished, world, plan), deadline)
            await _check_order(world, plan, looked, verdict)

    await asyncio.gather(*(lane() for _ in range(lanes)))
    await _check_stock(world, verdict, deadline)
    await _check_tickets(world, verdict)
    return verdict


async def _poll(probe: Callable[[], Awaitable[dict[str, Any]]], deadline: float) -> dict:
    """Probe until it reports done or the deadline passes; the last look either way."""
    while True:
        try:
            looked: dict[str, Any] | None = await probe()
        except httpx.TransportError:  # a lost connection: look again
            if time.monotonic() > deadline:
                raise
            looked = None
        if looked is not None and (looked["done"] or time.monotonic() > deadline):
            return looked
        await asyncio.sleep(0.2)


async def _looks_finished(world: World, plan: Plan) -> dict[str, Any]:
    assert plan.order_id is not None
    s = plan.scenario
    page = await plan.customer.status_page(plan.order_id)
    # The customer's other orders' messages are theirs to check; a foreign one is ours.
    every = await plan.customer.notifications()
    notes = [n for n in every if n["order_id"] == plan.order_id]
    foreign = [n for n in every if n["order_id"] not in world.orders_of(plan.customer)]
    order = (await plan.customer.order(plan.order_id)).json()
    r = await plan.rider.delivery(plan.order_id)
    delivery = r.json()["status"] if r.status_code == 200 else None
    notified = [n["status"] for n in notes]
    done = (
        page is not None
        and [e["status"] for e in page["timeline"]] == list(s.timeline)
        and (notified == list(s.timeline) if plan.watched else notified[-1:] == [s.timeline[-1]])
        and all(n["state"] == "SENT" for n in notes)
        and (order["status"], order["payment"]["status"]) == (s.order_status, s.payment)
        and delivery == s.delivery
    )
    looked = {"page": page, "notes": notes, "foreign": foreign, "order": order}
    return {"done": done, **looked, "delivery": delivery}


async def _check_order(world: World, plan: Plan, looked: dict[str, Any], v: Verdict) -> None:
    s, oid = plan.scenario, plan.order_id
    assert oid is not None  # the world's orders were placed
    what = f"order {oid} ({s.name})"
    page = looked["page"]
    if not v.expect(page is not None, "lost", f"{what}: never reached mypage"):
        return
    v.expect(page["status"] == s.timeline[-1], "other", f"{what}: mypage {page['status']}")
    _compare(v, f"{what} timeline", [e["status"] for e in page["timeline"]], s.timeline)
    notes = looked["notes"]
    notified = [n["status"] for n in notes]
    if plan.watched:
        _compare(v, f"{what} notifications", notified, s.timeline)
    else:
        # One per change: statuses overtaken on the way were never shown, so the
        # messages are the timeline's statuses in order with some skipped, ending
        # with the final one.
        twice = [st for st, n in Counter(notified).items() if n > 1]
        v.expect(not twice, "duplicated", f"{what} notifications: twice {twice}")
        v.expect(s.timeline[-1] in notified, "lost", f"{what} notifications: {notified}")
        v.expect(_in_order(notified, s.timeline), "other", f"{what} notifications: {notified}")
    foreign = looked["foreign"]
    v.expect(not foreign, "other", f"{what}: foreign notification {foreign[:3]}")
    unsent = [n["status"] for n in notes if n["state"] != "SENT"]
    v.expect(not unsent, "lost", f"{what}: notifications never sent {unsent}")
    rows = await order_list(plan.customer)
    v.expect(rows.count(oid) >= 1, "lost", f"{what}: not in the customer's order list")
    # Listed once, beside none but the customer's own other orders (a second order
    # made by a retried PlaceOrder would be one).
    extra = set(rows) - world.orders_of(plan.customer)
    v.expect(rows.count(oid) <= 1 and not extra, "duplicated", f"{what}: list {rows}")
    order = looked["order"]
    got = (order["status"], order["payment"]["status"])
    v.expect(got == (s.order_status, s.payment), "other", f"{what}: order-service says {got}")
    want = s.delivery
    v.expect(looked["delivery"] == want, "other", f"{what}: delivery {looked['delivery']}")


async def order_list(customer: Customer) -> list[str]:
    """Every order id on the customer's mypage order list, page after page."""
    rows: list[str] = []
    while True:
        r = await customer.orders(limit=LIST_PAGE, offset=len(rows))
        page = [o["order_id"] for o in r.json()["orders"]]
        rows += page
        if len(page) < LIST_PAGE:
            return rows


def _in_order(got: list[str], timeline: tuple[str, ...]) -> bool:
    """Whether `got` is `timeline` with some entries left out."""
    rest = iter(timeline)
    return all(status in rest for status in got)


async def tickets(world: World) -> dict[str, dict[str, Any]]:
    """Every kitchen ticket of the world's stores, by order id, as their owners see them
    (a ticket listed twice would be kept under `order_id + "#2"`)."""
    found: dict[str, dict[str, Any]] = {}
    for store, owner in world.owners.items():
        offset = 0
        while True:
            r = await owner.request(
                "GET",
                f"{world.at.store}/stores/{store}/orders",
                params={"limit": 200, "offset": offset},
            )
            page = r.json()["orders"]
            for t in page:
                key = t["order_id"]
                found[key if key not in found else key + "#2"] = t
            if len(page) < 200:
                break
            offset += 200
    return found


async def _check_tickets(world: World, v: Verdict) -> None:
    listed = await tickets(world)
    for plan in world.orders:
        oid = plan.order_id or ""
        v.expect(oid + "#2" not in listed, "duplicated", f"order {oid}: ticket listed twice")
        got = listed.get(oid, {}).get("status")
        if v.expect(got is not None, "lost", f"order {oid}: no ticket"):
            v.expect(got == plan.scenario.ticket, "other", f"order {oid}: ticket {got}")


async def snapshot(world: World) -> dict[str, Any]:
    """Everything every service shows about the world's orders and stores, to compare
    before and after a fault that must change nothing."""
    shot: dict[str, Any] = {"tickets": await tickets(world), "stock": {}}
    for store, owner in world.owners.items():
        shot["stock"][store] = await owner.menu(store)
    for plan in world.orders:
        oid = plan.order_id or ""
        delivery = await plan.rider.delivery(oid)
        shot[oid] = {
            "mypage": await plan.customer.status_page(oid),
            "notifications": await plan.customer.notifications(),
            "order list": (await plan.customer.orders()).json()["orders"],
            "order": (await plan.customer.order(oid)).json(),
            "delivery": delivery.json() if delivery.status_code == 200 else None,
        }
    return shot


def expected_stock(world: World) -> dict[tuple[str, str], int]:
    stock = {(store, item): world.stock for store, items in world.items.items() for item in items}
    for plan in world.orders:
        if plan.scenario.keeps_food:
            for item, quantity in plan.items:
                stock[(plan.store, item)] -= quantity
    return stock


async def stock_levels(world: World) -> dict[tuple[str, str], int]:
    levels = {}
    for store, owner in world.owners.items():
        for item in (await owner.menu(store))["items"]:
            levels[(store, item["item_id"])] = item["stock"]
    return levels


async def _check_stock(world: World, v: Verdict, deadline: float) -> None:
    want = expected_stock(world)
    while True:
        got = await stock_levels(world)
        if got == want or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    for key, level in want.items():
        # Less stock than expected: a take applied twice (or a give-back lost).
        v.expect(got[key] >= level, "duplicated", f"stock {key}: {got[key]} < {level}")
        v.expect(got[key] <= level, "lost", f"stock {key}: {got[key]} > {level}")


def check_topics(world: World, records: list, v: Verdict) -> dict[str, int]:
    """Each order's events on each topic: every expected event there (lost otherwise),
    one event id per event type (a second id is a doubled effect), in commit order.
    Returns how many extra copies of an event id the topics hold: at-least-once
    publishing allows them (consumers skip them), so they are counted, not failed."""
    by_order: dict[str | None, dict[str, list[tuple[int, str, str]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    orders = {p.order_id: p for p in world.orders}
    for r in records:
        key = r.key.decode() if r.key else ""
        if key in orders:
            env, _ = decode(r.value)
            by_order[key][r.topic].append((r.offset, env.event_type, str(env.event_id)))
    copies = 0
    for oid, plan in orders.items():
        s = plan.scenario
        for topic, want in (
            (ORDER_EVENTS, s.order_events),
            (STORE_EVENTS, s.store_events),
            (DELIVERY_EVENTS, s.delivery_events),
        ):
            seen: dict[str, str] = {}  # event id -> type, first copy only
            for _, event_type, event_id in sorted(by_order[oid][topic]):
                if event_id in seen:
                    copies += 1
                else:
                    seen[event_id] = event_type
            _compare(v, f"order {oid} {s.name} on {topic}", list(seen.values()), want)
    return {"extra_copies": copies}


async def published(world: World, bootstrap: str, *, within: float = 60) -> list:
    """The event topics' records, once every event the orders' stories publish is
    there (a state seen over HTTP may still have its event in the outbox), or as they
    are at the deadline, for `check_topics` to say what is missing."""
    deadline = time.monotonic() + within
    while True:
        records = await read_to_end(bootstrap, list(EVENT_TOPICS))
        trial = Verdict()
        check_topics(world, records, trial)
        if not trial.lost or time.monotonic() > deadline:
            return records
        await asyncio.sleep(0.5)


# ------------------------------------------------------------------ fault reports


def fault_report(name: str, fault: str, verdict: Verdict, **extra: Any) -> dict[str, Any]:
    """One row of the fault table: printed (pytest -s shows it) and written to
    faults-<name>.json under .local/reports/ (or REPORT_DIR), overwritten by the next run."""
    # The test that runs this, as pytest names it ("path::test (call)").
    test = os.environ.get("PYTEST_CURRENT_TEST", "tests/faults").rsplit(" ", 1)[0]
    database = os.environ.get("FAULTS_DATABASE", "sqlite")  # see tests/faults/conftest.py
    report = {
        "fault": fault,
        "database": database,
        "measured_at": datetime.now(UTC).isoformat(),
        "command": f"uv run pytest '{test}' -s",
        **verdict.row(),
        **extra,
    }
    suffix = "" if database == "sqlite" else f"-{database}"
    write_report(f"faults-{name}{suffix}", report)
    print(
        f"\n| {fault} | {verdict.orders} orders | {verdict.checks} final states checked "
        f"| lost {len(verdict.lost)} | duplicated {len(verdict.duplicated)} "
        f"| other {len(verdict.other)} |"
    )
    return report


async def menu_change_applied(bootstrap: str, store: str, item: str, price: int) -> None:
    """Wait until the item's change to `price` is published and the order-service's
    consumer group has committed past it (its replica has applied it)."""
    key = f"{store}/{item}"

    async def published() -> Any:
        records = await read_to_end(bootstrap, [STORE_EVENTS])
        return next(
            (r for r in records if r.key and r.key.decode() == key and _priced(r.value, price)),
            None,
        )

    record = await wait_for(published, within=120, interval=0.5, what=f"{key} at {price}")
    tp = TopicPartition(record.topic, record.partition)

    async def applied() -> bool:
        return (await committed_offsets(bootstrap, "order-service")).get(tp, -1) > record.offset

    await wait_for(applied, within=120, interval=0.2, what=f"the replica to apply {key}")


def _priced(value: bytes | None, price: int) -> bool:
    event = decode(value)[1]
    return isinstance(event, MenuItemChanged) and event.price == price


async def price_of(world: World, store: str, item: str) -> int:
    """What the order-service charges for one `item` now: its replica's price."""
    customer = Customer(world.http, world.at, f"pricing-{world.tag}")
    r = await customer.place_order(store, [(item, 1)])
    assert r.status_code == 201, r.text
    return r.json()["total_amount"]
