"""SMS gateway failures name the gateway without its secrets (they reach job results and logs)."""
from __future__ import annotations

import httpx
import pytest

from jobs.sms import HttpGatewayProvider, SmsNotConfigured, SmsRejected, SmsTemporaryFailure

URL = "https://user:pa55word@sms.example.test:8443/send?api_id=K3Y-SECRET&from=Pult"


def provider(handler) -> HttpGatewayProvider:
    return HttpGatewayProvider(URL, "bearer-token", transport=httpx.MockTransport(handler))


def assert_clean(message: str) -> None:
    for secret in ("pa55word", "K3Y-SECRET", "user:", "bearer-token"):
        assert secret not in message
    assert "https://sms.example.test:8443/send" in message  # which gateway it was is still said


@pytest.mark.parametrize("status, error", [(503, SmsTemporaryFailure), (200, SmsRejected)])
def test_gateway_answers_are_reported_without_the_url_secrets(status, error):
    p = provider(lambda request: httpx.Response(status, text="busy"))
    with pytest.raises(error) as info:
        p.send("+79123456789", "hello")
    assert_clean(str(info.value))


def test_an_unreachable_gateway_is_reported_without_the_url_secrets():
    def refuse(request):
        assert request.url.params["api_id"] == "K3Y-SECRET"  # the real request keeps them
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(SmsTemporaryFailure) as info:
        provider(refuse).send("+79123456789", "hello")
    assert_clean(str(info.value))


def test_a_url_of_another_scheme_is_refused_without_echoing_its_secrets():
    with pytest.raises(SmsNotConfigured) as info:
        HttpGatewayProvider("ftp://user:pa55word@sms.example.test/x?api_id=K3Y-SECRET")
    assert "pa55word" not in str(info.value) and "K3Y-SECRET" not in str(info.value)
