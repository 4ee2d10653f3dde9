"""The board's words that no code can say. The renderer checks them against the
code's facts: a command, policy or file named here must exist, and every command and
policy in the code must be described here, so the prose cannot drift silently."""

from __future__ import annotations

INTRO = """\
The domain of the food-delivery platform on one page: who decides what, which facts
each context publishes, who reacts to them, and what the customer finally sees. It is
generated from the code by `make board`; the tables come from the event registry, the
services' HTTP routes, their message buses, the domain's transition tables and the
ORM tables, and only the explanations are written by hand (in
`testkit/src/testkit/board/prose.py`). Its machine-readable twin is
[`asyncapi.yaml`](asyncapi.yaml): every topic, every message with its JSON Schema,
key and headers."""

VOCABULARY = (
    ("command", "what an actor asks for, in the present tense; one HTTP call"),
    ("aggregate", "the consistency boundary that accepts or refuses a command"),
    ("event", "a fact in the past tense, published only after the decision commits"),
    (
        "policy",
        "whenever a given event arrives, then do something; owned by the context that "
        "reacts, never by the one that published",
    ),
    ("read model", "data shaped for a screen, built from events alone"),
)

NEWCOMER = (
    (
        "the cancel rule",
        "order-service/src/order_service/domain/model.py",
        "`Order.cancel` and the `TRANSITIONS` table: only the owner, only while PLACED or "
        "ACCEPTED; the kitchen's events keep the local status current",
    ),
    (
        "what mypage does with DeliveryConfirmed",
        "mypage-service/src/mypage_service/domain/model.py",
        "`OrderStatusView.apply`: the event's status (DELIVERED, from `domain/status.py`) "
        "enters the timeline, wins by precedence, and a visible change queues one "
        "notification in the same transaction",
    ),
    (
        "how an event gets from a commit to Kafka",
        "service-kit/src/service_kit/outbox.py",
        "`stage` writes the envelope into the outbox table inside the aggregate's "
        "transaction; `OutboxRelay` later sends the rows in commit order with the key and "
        "headers listed below, and marks what the broker acknowledged",
    ),
)

# Who sends each command (the actor) and what it decides; the refusals in words.
COMMANDS = {
    "PlaceOrder": (
        "customer",
        "prices the lines from the menu replica (never from the client), charges the card, "
        "records a PLACED order → OrderPlaced. Refused: unknown or unavailable item, bad "
        "input (422), card declined (402). The same `Idempotency-Key` returns the same "
        "order (200) and publishes nothing; with another body it is a 422",
    ),
    "CancelOrder": (
        "customer",
        "the owner cancels while the order is PLACED or ACCEPTED → OrderCancelled, and a "
        "refund falls due. Refused: cooking started or the order is over (409), another "
        "customer's order (403), unknown (404)",
    ),
    "RegisterStore": (
        "store owner",
        "registers a store in a region; the caller becomes its owner. Publishes nothing. "
        "Refused: bad input (422), a store someone else owns (403)",
    ),
    "SetMenuItem": (
        "store owner",
        "sets an item's name, price (won) and stock → MenuItemChanged with a rising "
        "revision. Refused: bad input (422), not this store's owner (403)",
    ),
    "DecideOrder": (
        "store owner",
        "accepts or rejects (with a reason) a RECEIVED ticket → OrderAccepted or "
        "OrderRejected. Refused: not RECEIVED (409), not this store's owner (403)",
    ),
    "StartCooking": (
        "store owner",
        "an ACCEPTED ticket starts cooking → CookStarted. Refused: not ACCEPTED (409)",
    ),
    "FinishCooking": (
        "store owner",
        "a COOKING ticket is ready → CookFinished. Refused: not COOKING (409)",
    ),
    "PickFood": (
        "rider",
        "takes a WAITING delivery → FoodPicked. Of two riders racing, exactly one wins; "
        "the other gets 409",
    ),
    "ConfirmDelivery": (
        "rider",
        "the rider who picked it hands it over → DeliveryConfirmed. Refused: not PICKED "
        "(409), picked by another rider (403)",
    ),
    "ReturnDelivery": (
        "rider",
        "the food came back (with a reason) after pick-up or delivery → DeliveryReturned. "
        "Refused: not PICKED or DELIVERED (409), picked by another rider (403)",
    ),
}

# subscriber -> event type -> what its policy does; "*" covers every event it handles.
POLICIES = {
    "order-service": {
        "MenuItemChanged": (
            "keep the replica of the store's menu (latest revision wins) that prices and "
            "validates new orders"
        ),
        "OrderAccepted": "keep the order's local status: ACCEPTED",
        "OrderRejected": "mark the order REJECTED and refund the payment",
        "CookStarted": (
            "keep the order's local status: COOKING (cooking implies acceptance), so it can "
            "no longer be cancelled"
        ),
    },
    "store-service": {
        "OrderPlaced": (
            "put a RECEIVED ticket into the store owner's inbox, to be decided by its "
            "`accept_by` (placement + ACCEPTANCE_WINDOW_S); the acceptance timer rejects it "
            "after that → OrderRejected (`rejected_by: timeout`)"
        ),
        "OrderCancelled": "cancel the ticket (unless it was REJECTED) → CookingCancelled",
        "DeliveryConfirmed": "take the ordered quantities off the menu stock",
        "DeliveryReturned": "put those quantities back",
    },
    "delivery-service": {
        "OrderPlaced": "keep a local copy of the address and region",
        "CookStarted": (
            "offer the delivery (WAITING) to riders in the customer's region once the address "
            "is known too"
        ),
        "OrderCancelled": "cancel the delivery, or never open it → DeliveryCancelled",
    },
    "mypage-service": {
        "*": (
            "create or update the customer's `order_status` row and timeline; when the "
            "visible status changes, queue one notification"
        ),
    },
}

IDENTITY = (
    "Every command has an actor: a customer, a store owner or a rider, the subject of a "
    "signed access token from identity-service (`Authorization: Bearer`); a missing or "
    "invalid token is 401, a token of the wrong role 403.",
    "A customer sees and cancels only their own orders, and mypage refuses (403) to show "
    "one customer's orders or notifications to another.",
    "A store owner registers stores, sets their menus and works only their own store's "
    "tickets; browsing the stores of a region and their menus needs no token.",
    "A rider sees the offers in a region (by default the one in their token), picks, and "
    "confirms or returns only what they picked.",
    "`order_id` is a UUID that the order-service generates; money is a whole number of "
    "won; times are UTC ISO-8601.",
)

# Numbered: code and tests cite them as "docs/board.md, invariant N".
INVARIANTS = (
    (
        "Nothing lost",
        "A change to an aggregate and the events it raises commit in one transaction "
        "(the outbox); a relay publishes them afterwards, so a broker outage delays "
        "events but never drops them. A consumer commits its offset only after its own "
        "transaction has committed.",
    ),
    (
        "Nothing doubled",
        "Delivery is at least once, so every policy is idempotent: the ids of processed "
        "events are recorded in the policy's own transaction (the inbox) and a "
        "redelivery changes nothing.",
    ),
    (
        "Order per order",
        "All events of one order from one context share a key, hence a partition, and "
        "are published and consumed in the order they committed.",
    ),
    (
        "Any arrival order converges",
        "Events from different topics may arrive in any order (a DeliveryConfirmed "
        "before its OrderPlaced at mypage, an OrderCancelled before CookStarted at "
        "delivery); every consumer ends in the same state whatever the order. When "
        "cancelling and cooking cross, cancellation wins everywhere: no delivery stays "
        "open and no stock moves.",
    ),
    (
        "Failures are isolated",
        "A failing policy is retried with backoff, then its message is parked on the "
        "consumer's dead-letter topic with the error, and the consumer goes on. A failed "
        "notification never fails a status update or an HTTP request.",
    ),
    (
        "Bad input gets a clear error",
        "422 naming the field, 404, 403, or 409 naming the current state, in one shape "
        '(`{"detail": ...}`); never a 500 and never a half-applied change.',
    ),
)
