"""The orders a load run or a fault test drives and what each should end as: the
scenarios, one plan per order, and the world of stores, owners and customers.
Shared by the driver (testkit.load) and the checks (testkit.checks)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx

from testkit.actors import Customer, Endpoints, Rider, StoreOwner

REGION = "gangnam"
STOCK = 100_000  # never runs out, so stock is exactly "initial - delivered"

# ------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[str, ...]  # actions after PlaceOrder, see Driver._command
    order_status: str  # order-service, with its payment status
    payment: str
    ticket: str  # the kitchen ticket at store-service
    delivery: str | None  # delivery-service; None: never offered (404)
    # Event types per topic, in commit order, that this order's story publishes.
    store_events: tuple[str, ...]
    delivery_events: tuple[str, ...] = ()
    keeps_food: bool = False  # delivered and not returned: its quantities leave the stock

    @property
    def timeline(self) -> tuple[str, ...]:
        return ("PLACED", *(STEP_STATUS[s] for s in self.steps))

    @property
    def order_events(self) -> tuple[str, ...]:
        return ("OrderPlaced", "OrderCancelled") if "cancel" in self.steps else ("OrderPlaced",)


STEP_STATUS = {
    "accept": "ACCEPTED",
    "reject": "REJECTED",
    "cook": "COOKING",
    "finish": "COOKED",
    "pick": "PICKED",
    "confirm": "DELIVERED",
    "return": "RETURNED",
    "cancel": "CANCELLED",
}
KITCHEN = ("OrderAccepted", "CookStarted", "CookFinished")
COOKED = ("accept", "cook", "finish", "pick", "confirm")

SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "delivered",
            COOKED,
            "COOKING",
            "CHARGED",
            "COOKED",
            "DELIVERED",
            KITCHEN,
            ("FoodPicked", "DeliveryConfirmed"),
            keeps_food=True,
        ),
        Scenario(
            "rejected", ("reject",), "REJECTED", "REFUNDED", "REJECTED", None, ("OrderRejected",)
        ),
        Scenario(
            "cancelled-accepted",
            ("accept", "cancel"),
            "CANCELLED",
            "REFUNDED",
            "CANCELLED",
            "CANCELLED",
            ("OrderAccepted", "CookingCancelled"),
            ("DeliveryCancelled",),
        ),
        Scenario(
            "cancelled-placed",
            ("cancel",),
            "CANCELLED",
            "REFUNDED",
            "CANCELLED",
            "CANCELLED",
            ("CookingCancelled",),
            ("DeliveryCancelled",),
        ),
        Scenario(
            "returned",
            (*COOKED, "return"),
            "COOKING",
            "CHARGED",
            "COOKED",
            "RETURNED",
            KITCHEN,
            ("FoodPicked", "DeliveryConfirmed", "DeliveryReturned"),
        ),
    )
}
# Out of every ten orders: six delivered, one of each other ending.
MIX = ("delivered",) * 6 + ("rejected", "cancelled-accepted", "cancelled-placed", "returned")


# ------------------------------------------------------------------ the world


@dataclass
class Plan:
    """One order to drive: who, what, and what happened to it."""

    index: int
    scenario: Scenario
    store: str
    items: tuple[tuple[str, int], ...]
    customer: Customer
    rider: Rider
    order_id: str | None = None
    done: list[str] = field(default_factory=list)  # the steps that got their 2xx
    # Whether the customer saw every status (then each is one notification); steps
    # taken unwatched may let a later status overtake an earlier one on mypage.
    watched: bool = True
    error: str | None = None
    placed_at: float = 0.0
    finished_at: float = 0.0


@dataclass
class World:
    """Stores with two dishes each, and a pool of customers and riders who order and
    deliver many times, as real ones do (the checks read each order's notifications
    and list entries among its customer's others)."""

    http: httpx.AsyncClient
    at: Endpoints
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    # Customers (and as many riders) reused across plans: plan i is customer
    # i % accounts's, so `accounts` consecutive plans (the lanes in flight, when it is
    # at least the driver's concurrency) have a customer and a rider each of their own.
    accounts: int = 40
    stock: int = STOCK  # of every dish at the start
    owners: dict[str, StoreOwner] = field(default_factory=dict)  # by store
    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # store -> its two items
    plans: list[Plan] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    riders: list[Rider] = field(default_factory=list)

    async def open_stores(self, count: int) -> None:
        for n in range(count):
            store = f"load-{self.tag}-{n}"
            owner = StoreOwner(self.http, self.at, f"owner-{self.tag}-{n}")
            r = await owner.register_store(store, "Load Kitchen", REGION)
            assert r.status_code == 200, r.text
            self.owners[store] = owner
            self.items[store] = (f"{store}-bibimbap", f"{store}-kimbap")
            for item, price in zip(self.items[store], (9000, 4500), strict=True):
                r = await owner.set_menu_item(store, item, item, price, self.stock)
                assert r.status_code == 200, r.text

    def plan(self, count: int, mix: tuple[str | Scenario, ...] = MIX) -> list[Plan]:
        """`count` more orders, spread over the stores, a scenario each from `mix`
        (a name from SCENARIOS, or a Scenario of the caller's)."""
        stores = list(self.owners)
        start = len(self.plans)
        for i in range(start, start + count):
            store = stores[i % len(stores)]
            first, second = self.items[store]
            lines = ((first, 1 + i % 3),) if i % 4 else ((first, 1), (second, 2))
            scenario = mix[i % len(mix)]
            self.plans.append(
                Plan(
                    i,
                    SCENARIOS[scenario] if isinstance(scenario, str) else scenario,
                    store,
                    lines,
                    *self._actors(i),
                )
            )
        return self.plans[start:]

    def _actors(self, i: int) -> tuple[Customer, Rider]:
        """Plan i's customer and rider, from the pool (met on first use)."""
        slot = i % self.accounts
        while len(self.customers) <= slot:
            n = len(self.customers)
            self.customers.append(Customer(self.http, self.at, f"cust-{self.tag}-{n}"))
            self.riders.append(Rider(self.http, self.at, f"rider-{self.tag}-{n}"))
        return self.customers[slot], self.riders[slot]

    def orders_of(self, customer: Customer) -> set[str]:
        """The ids of the orders `customer` placed in this world."""
        return {p.order_id for p in self.orders if p.customer is customer and p.order_id}

    async def sign_up(self, plans: list[Plan], concurrency: int = 8) -> None:
        """Sign the plans' customers and riders up ahead (password hashing is slow by
        design), so a timed run measures orders, not account creation. An actor
        signed up already (the pool's, for earlier plans) costs nothing."""
        gate = asyncio.Semaphore(concurrency)
        actors = {id(a): a for p in plans for a in (p.customer, p.rider)}

        async def one(actor: Customer | Rider) -> None:
            async with gate:
                await actor.sign_up()

        await asyncio.gather(*(one(a) for a in actors.values()))

    @property
    def orders(self) -> list[Plan]:
        """The plans whose order exists (PlaceOrder answered 201)."""
        return [p for p in self.plans if p.order_id is not None]
