"""The SMS gateway URL cannot be turned against the operator's own network (SSRF): http(s) only,
never a link-local / cloud-metadata address, private and loopback addresses only with
PULT_SMS_ALLOW_PRIVATE; the address a name resolves to is checked again when connecting, and the
connection goes to that checked address. Gateway answers that are not JSON are never echoed.
"""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from pydantic import ValidationError

from jobs import sms
from jobs.sms import (GatewayAddressRefused, HttpGatewayProvider, SmsNotConfigured, SmsRejected,
                      gateway_url_kind)


@pytest.mark.parametrize("url, private_ok, kind", [
    ("https://sms.example.ru/send", False, None),
    ("http://8.8.8.8/send", False, None),
    ("ftp://sms.example.ru/", True, "scheme"),
    ("http:///nohost", True, "no_host"),
    ("http://169.254.169.254/latest/meta-data/", True, "link_local"),
    ("http://[fd00:ec2::254]/latest/", True, "link_local"),
    ("http://[::ffff:169.254.169.254]/", True, "link_local"),
    ("http://[fe80::1]/", True, "link_local"),
    ("http://127.0.0.1:8080/send", False, "not_public"),
    ("http://localhost/send", False, "not_public"),
    ("http://10.1.2.3/send", False, "not_public"),
    ("http://192.168.0.5/send", False, "not_public"),
    ("http://[::1]/send", False, "not_public"),
    ("http://127.0.0.1:8080/send", True, None),
    ("http://10.1.2.3/send", True, None),
    ("http://0.0.0.0/send", True, "not_unicast"),
])
def test_gateway_url_kinds(url, private_ok, kind):
    assert gateway_url_kind(url, allow_private=private_ok) == kind


def test_the_provider_refuses_metadata_always_and_loopback_without_the_setting():
    with pytest.raises(SmsNotConfigured, match="link-local"):
        HttpGatewayProvider("http://169.254.169.254/latest", allow_private=True)
    with pytest.raises(SmsNotConfigured, match="PULT_SMS_ALLOW_PRIVATE"):
        HttpGatewayProvider("http://127.0.0.1:9/send")
    HttpGatewayProvider("http://127.0.0.1:9/send", allow_private=True)


class _Gateway:
    """A loopback HTTP gateway recording the Host header of what it receives."""

    def __init__(self):
        self.hosts: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.hosts.append(self.headers["Host"])
                body = json.dumps({"id": "m-1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    g = _Gateway()
    yield g
    g.stop()


def _resolve_to(monkeypatch, address):
    """The gateway's (made-up) name resolves to ``address`` — as after a DNS change."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == "sms.example.test":
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(sms.netguard.socket, "getaddrinfo", fake)


def test_a_name_resolving_to_metadata_or_loopback_is_refused_when_connecting(monkeypatch, gateway):
    url = f"http://sms.example.test:{gateway.port}/send"
    _resolve_to(monkeypatch, "127.0.0.1")
    with pytest.raises(GatewayAddressRefused, match="127.0.0.1 is not a public address"):
        HttpGatewayProvider(url).send("+79123456789", "hi")
    _resolve_to(monkeypatch, "169.254.169.254")
    with pytest.raises(GatewayAddressRefused, match="link-local"):
        HttpGatewayProvider(url, allow_private=True).send("+79123456789", "hi")
    assert gateway.hosts == []  # nothing ever reached a server


def test_the_connection_goes_to_the_checked_address_with_the_url_host(monkeypatch, gateway):
    _resolve_to(monkeypatch, "127.0.0.1")
    url = f"http://sms.example.test:{gateway.port}/send"
    assert HttpGatewayProvider(url, allow_private=True).send("+79123456789", "hi") == "m-1"
    assert gateway.hosts == [f"sms.example.test:{gateway.port}"]


def _provider(status, body, ctype):
    return HttpGatewayProvider("https://sms.example.ru/send", transport=httpx.MockTransport(
        lambda request: httpx.Response(status, content=body.encode(), headers={"Content-Type": ctype})))


@pytest.mark.parametrize("status", [200, 400, 503])
def test_a_body_that_is_not_json_is_never_echoed(status):
    p = _provider(status, "<html>internal admin page: root password hunter2</html>", "text/html")
    with pytest.raises(Exception) as info:
        p.send("+79123456789", "hi")
    assert "hunter2" not in str(info.value) and "<html>" not in str(info.value)
    assert str(status) in str(info.value)


def test_only_the_error_text_of_a_json_answer_is_reported():
    with pytest.raises(SmsRejected) as info:
        _provider(400, json.dumps({"error": "number is blocked", "debug": {"token": "t0k"}}),
                  "application/json").send("+79123456789", "hi")
    assert "number is blocked" in str(info.value) and "t0k" not in str(info.value)
    with pytest.raises(SmsRejected) as info:
        _provider(400, json.dumps({"debug": {"token": "t0k"}}), "application/json").send("+79123456789", "hi")
    assert "t0k" not in str(info.value)


def test_the_console_refuses_such_gateway_urls(settings):
    from web.operator.models import SettingsIn
    from pult.settings import set_settings

    set_settings(settings.model_copy(update={"sms_allow_private": False}))
    for url, message in (("http://169.254.169.254/x", "link-local (cloud metadata)"),
                         ("http://[fd00:ec2::254]/x", "link-local (cloud metadata)"),
                         ("http://127.0.0.1:8000/x", "must be at a public address"),
                         ("http://192.168.1.10/x", "must be at a public address"),
                         ("ftp://sms.example.ru/", "starts with http:// or https://")):
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            SettingsIn(sms_gateway_url=url)
    assert SettingsIn(sms_gateway_url="https://sms.example.ru/send").sms_gateway_url == "https://sms.example.ru/send"
    set_settings(settings.model_copy(update={"sms_allow_private": True}))
    assert SettingsIn(sms_gateway_url="http://192.168.1.10/x").sms_gateway_url == "http://192.168.1.10/x"
    with pytest.raises(ValidationError, match="link-local"):
        SettingsIn(sms_gateway_url="http://169.254.169.254/x")
    set_settings(settings)
