from datetime import UTC, datetime

import pytest

from order_service.adapters.payment import DECLINED_TEST_CARD, FakeCardGateway, UnknownCharge
from order_service.domain.payment import Payment, PaymentStatus, RefundNotRequested
from service_kit.kernel import PaymentDeclined

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


LATER = datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC)


def test_a_requested_refund_is_pending_until_the_gateway_gave_the_money_back():
    payment = Payment("o1", "ref", 9000, NOW)

    assert payment.request_refund(NOW)
    assert (payment.status, payment.refund_requested_at) == (PaymentStatus.REFUND_PENDING, NOW)
    assert payment.mark_refunded(LATER)
    assert (payment.status, payment.refunded_at, payment.refunded) == (
        PaymentStatus.REFUNDED,
        LATER,
        True,
    )


def test_a_refund_is_requested_once():
    payment = Payment("o1", "ref", 9000, NOW)
    payment.request_refund(NOW)

    assert not payment.request_refund(LATER)  # a cancel crossing a rejection
    assert payment.refund_requested_at == NOW
    payment.mark_refunded(LATER)
    assert not payment.request_refund(LATER)
    assert payment.status is PaymentStatus.REFUNDED


def test_a_payment_is_marked_refunded_once():
    payment = Payment("o1", "ref", 9000, NOW)
    payment.request_refund(NOW)

    assert payment.mark_refunded(NOW)
    assert not payment.mark_refunded(LATER)
    assert payment.refunded_at == NOW


def test_a_charge_nobody_asked_to_refund_cannot_be_marked_refunded():
    payment = Payment("o1", "ref", 9000, NOW)

    with pytest.raises(RefundNotRequested) as refused:
        payment.mark_refunded(NOW)
    assert refused.value.current_state == "CHARGED"
    assert payment.status is PaymentStatus.CHARGED


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
    assert gateway.refund_calls == ["o1", "o1", "o1", "o9"]  # each call, the refused one too
