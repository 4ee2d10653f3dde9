"""Any arrival order converges: the customer's CancelOrder and the kitchen's events
for one order cross in every possible way, each kitchen event delivered twice.

The command is one stream (the customer's), the store topic another (its events in
their own order); every item arrives twice. Wherever the cancel lands, the order
ends in one of two states, decided only by whether the cancel got in before the
kitchen closed the door: cancelled with exactly one refund and one OrderCancelled,
or the kitchen's state with the cancel refused (409) and no refund beyond the
kitchen's own.
"""

from dataclasses import dataclass

import pytest

from order_service.domain.payment import PaymentStatus
from service_kit.kernel import Conflict
from service_kit.testing import interleavings, twice
from shared_events.contract import CookStarted, OrderAccepted, OrderRejected

from .world import World, store_event

CANCEL = "CancelOrder"

KITCHEN = {
    "OrderAccepted": lambda order_id: OrderAccepted(order_id=order_id, store_id="s1"),
    "CookStarted": lambda order_id: CookStarted(order_id=order_id, store_id="s1"),
    "OrderRejected": lambda order_id: OrderRejected(
        order_id=order_id, store_id="s1", reason="sold out"
    ),
}


@dataclass(frozen=True)
class Final:
    cancel: str  # "accepted", or the current_state of the 409
    status: str
    payment: str
    refunds_given: int  # money actually given back by the gateway
    refund_calls: int
    order_cancelled: int


async def run(store_stream: list[str], arrival: list[str]) -> Final:
    world = World()
    order_id = await world.place()
    # One envelope per store event, in causal order; a redelivery is the same envelope.
    envelopes = {
        name: store_event(KITCHEN[name](order_id), minutes)
        for minutes, name in enumerate(store_stream, start=1)
    }
    answers: list[str] = []
    # Every item twice: kitchen events are redelivered (at-least-once), and the
    # customer sends the cancel again (a retried DELETE).
    for item in twice(arrival):
        if item == CANCEL:
            try:
                await world.cancel(order_id)
                answers.append("accepted")
            except Conflict as refused:  # a legitimate outcome, not a failure
                answers.append(str(refused.current_state))
        else:
            await world.deliver(*envelopes[item])
        await world.refunds.work_off()  # the dispatcher may run at any point
    first, retry = answers
    # The retry changes nothing: refused, naming the state the first answer left.
    assert retry == ("CANCELLED" if first == "accepted" else first)
    return Final(
        cancel=first,
        status=world.order(order_id).status.value,
        payment=world.payment(order_id).status.value,
        refunds_given=len(world.gateway.refunds),
        refund_calls=len(world.gateway.refund_calls),
        order_cancelled=len(world.cancellations()),
    )


CANCELLED = Final("accepted", "CANCELLED", "REFUNDED", 1, 1, 1)


@pytest.mark.parametrize(
    ("store_stream", "expected"),
    [
        (
            ["OrderAccepted", "CookStarted"],
            {"accepted": CANCELLED, "COOKING": Final("COOKING", "COOKING", "CHARGED", 0, 0, 0)},
        ),
        (
            ["OrderRejected"],
            {
                "accepted": CANCELLED,
                # The rejection's own refund, and no second one for the cancel.
                "REJECTED": Final("REJECTED", "REJECTED", "REFUNDED", 1, 1, 0),
            },
        ),
    ],
    ids=["accepted-then-cooking", "rejected"],
)
async def test_cancel_and_kitchen_converge_in_every_arrival_order(store_stream, expected):
    arrivals = list(interleavings([CANCEL], store_stream))
    assert len(arrivals) == len(store_stream) + 1  # the cancel in every position

    outcomes: dict[str, set[Final]] = {}
    for arrival in arrivals:
        final = await run(store_stream, arrival)
        outcomes.setdefault(final.cancel, set()).add(final)

    # Both outcomes happen, and each one is the same final state in every arrival order.
    assert outcomes == {cancel: {final} for cancel, final in expected.items()}


async def test_the_cancel_is_accepted_exactly_while_the_kitchen_has_not_closed_the_door():
    stream = ["OrderAccepted", "CookStarted"]
    for arrival in interleavings([CANCEL], stream):
        final = await run(stream, arrival)
        before_cooking = arrival.index(CANCEL) < arrival.index("CookStarted")
        assert (final.cancel == "accepted") is before_cooking, arrival
        assert final.payment == (
            PaymentStatus.REFUNDED if before_cooking else PaymentStatus.CHARGED
        )
