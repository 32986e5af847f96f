"""SMS jobs end to end: real Redis, a real worker, and a local HTTP gateway (http.server)."""
from __future__ import annotations


import pytest

from jobs import client
from jobs.sms import InvalidPhone, SmsError, SmsNotConfigured, send_sms, send_sms_async
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests, running_worker
from tests.integration.harness import SmsGateway
from pult.settings import load_settings


@pytest.fixture(scope="module")
def gateway():
    gw = SmsGateway("/api/sms")
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def worker(gateway, tmp_path_factory):
    settings = load_settings(redis_url=TEST_REDIS_URL, data_dir=tmp_path_factory.mktemp("sms"),
                             sms_gateway_url=gateway.url, sms_gateway_token="tok-123",
                             sms_allow_private=True,  # the gateway is a loopback receiver
                             log_level="WARNING")
    prefix = configure_for_tests(settings)
    with running_worker(settings, queues=["sms"]) as handle:
        yield handle
    cleanup(prefix)


@pytest.fixture(autouse=True)
def fresh(gateway):
    gateway.reset()


async def test_sms_reaches_the_gateway_with_token_and_payload(worker, gateway):
    task_id = send_sms("+7 (912) 345-67-89", "Код входа: 402913", idempotency_key="otp:42")
    result = await client.result(task_id, timeout=10)
    assert result == {"to": "+79123456789", "provider_id": "msg-1", "duplicate": False}
    (req,) = gateway.requests
    assert req["path"] == "/api/sms"
    assert req["headers"]["Authorization"] == "Bearer tok-123"
    assert req["headers"]["Idempotency-Key"] == "otp:42"
    assert req["json"] == {"to": "+79123456789", "text": "Код входа: 402913",
                           "idempotency_key": "otp:42"}


async def test_same_key_sends_one_sms(worker, gateway):
    first = await send_sms_async("+79001112233", "Баланс ниже порога", idempotency_key="bal:1")
    second = await send_sms_async("+79001112233", "Баланс ниже порога", idempotency_key="bal:1")
    r1 = await client.result(first, timeout=10)
    r2 = await client.result(second, timeout=10)
    assert len(gateway.requests) == 1
    assert r1["provider_id"] == r2["provider_id"] and r2["duplicate"] is True


async def test_gateway_5xx_is_retried_then_sent(worker, gateway):
    gateway.script = [(503, {"error": "maintenance"}), (502, {"error": "bad gateway"})]
    task_id = send_sms("+79001112233", "Пропущенный вызов от +74951234567")
    result = await client.result(task_id, timeout=20)
    assert len(gateway.requests) == 3
    assert result["provider_id"] == "msg-3"


async def test_gateway_4xx_fails_without_retry_with_its_message(worker, gateway):
    gateway.script = [(400, {"error": "sender name not approved"})]
    task_id = send_sms("+79001112233", "текст")
    with pytest.raises(client.JobFailed) as err:
        await client.result(task_id, timeout=10)
    assert err.value.exc_type == "SmsRejected"
    assert "400 sender name not approved" in str(err.value)
    assert len(gateway.requests) == 1


@pytest.mark.parametrize("number", ["+74951234567", "89123456789", "+7912345678",
                                    "+791234567890", "+380501234567", "+7912345678a", ""])
def test_only_russian_mobile_numbers_are_accepted(worker, gateway, number):
    with pytest.raises(InvalidPhone, match=r"\+79xxxxxxxxx"):
        send_sms(number, "текст")
    assert gateway.requests == []


def test_empty_or_huge_text_is_refused(worker):
    with pytest.raises(SmsError, match="empty"):
        send_sms("+79123456789", "  ")
    with pytest.raises(SmsError, match="at most 1000"):
        send_sms("+79123456789", "я" * 1001)


def test_unconfigured_gateway_is_a_clear_error(worker):
    from jobs import context

    configured = context.settings()
    try:
        context.use_settings(configured.model_copy(update={"sms_gateway_url": None}))
        with pytest.raises(SmsNotConfigured, match="PULT_SMS_GATEWAY_URL"):
            send_sms("+79123456789", "текст")
    finally:
        context.use_settings(configured)
