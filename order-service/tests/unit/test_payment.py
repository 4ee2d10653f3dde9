from datetime import UTC, datetime

import pytest

from order_service.adapters.payment import DECLINED_TEST_CARD, FakeCardGateway, UnknownCharge
from order_service.domain.payment import Payment, PaymentStatus
from shared_events.kernel import PaymentDeclined

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_payment_is_refunded_once():
    payment = Payment("o1", "ref", 9000, NOW)

    assert payment.mark_refunded(NOW)
    assert not payment.mark_refunded(NOW)
    assert payment.status is PaymentStatus.REFUNDED


async def test_the_fake_gateway_declines_only_the_documented_test_card():
    gateway = FakeCardGateway()

    reference = await gateway.charge("o1", 9000, "tok_anything")
    with pytest.raises(PaymentDeclined):
        await gateway.charge("o2", 9000, DECLINED_TEST_CARD)
    assert list(gateway.charges) == [reference]


async def test_the_fake_gateway_refunds_idempotently_and_checks_what_it_charged():
    gateway = FakeCardGateway()
    reference = await gateway.charge("o1", 9000, "tok_ok")

    with pytest.raises(UnknownCharge):
        await gateway.refund("o1", reference, 1)
    await gateway.refund("o1", reference, 9000)
    await gateway.refund("o1", reference, 9000)
    await gateway.refund("o9", "charged-by-the-api-process", 5000)

    assert gateway.charges[reference].refunded
    assert gateway.refunded == [reference, "charged-by-the-api-process"]
