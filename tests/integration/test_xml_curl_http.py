"""The mod_xml_curl endpoint in a real Tornado server on a loopback port.

Every request recorded from FreeSWITCH 1.10.12 (``xml_curl_requests.jsonl``) is replayed as
FreeSWITCH sent it; access control, garbage and failure cases are checked on the same server.
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from fs_config import NOT_FOUND_XML, Providers, XmlCurlRequest, routes
from fs_config.directory import DirectoryDomain, DirectoryUser, a1_hash, build_directory
from pult.observability import XML_CURL_REQUESTS
from pult.settings import load_settings

TRACE = Path("/work/shared/freeswitch/traces/xml_curl_requests.jsonl")
SECRET = "s3cret-for-tests"
SOCKET = ("127.0.0.1", 18084)


def recorded() -> list[dict]:
    return [json.loads(line) for line in TRACE.read_text().splitlines() if line.strip()]


def fs_body(form: dict) -> bytes:
    """The body as mod_xml_curl builds it: spaces as %20, ',' and '/' left as they are (this
    reproduces every recorded Content-Length)."""
    return "&".join(f"{quote(k, safe=',/')}={quote(v, safe=',/')}" for k, v in form.items()).encode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Server:
    """A Tornado app with only the xml_curl routes, on 127.0.0.1:<free port>."""

    def __init__(self, settings, providers=None, xheaders=False, app_settings=None, **route_kw):
        self.app = Application(routes(settings, providers, **route_kw), **(app_settings or {}))
        sockets = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = sockets[0].getsockname()[1]
        self.server = HTTPServer(self.app, xheaders=xheaders)
        self.server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{self.port}/fs/xml-curl"
        self.client = AsyncHTTPClient(force_instance=True)

    async def post(self, body: bytes | str, headers: dict | None = None, auth=True, **kw):
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "freeswitch-xml/1.0"}
        if auth:
            hdrs["Authorization"] = basic("freeswitch", SECRET)
        hdrs.update(headers or {})
        req = HTTPRequest(self.url, method="POST", body=body, headers=hdrs, **kw)
        return await self.client.fetch(req, raise_error=False)

    async def close(self):
        self.client.close()
        self.server.stop()
        await self.server.close_all_connections()


def make_settings(**kw):
    base = dict(xml_curl_secret=SECRET, xml_curl_allow="127.0.0.0/8", outbound_host=SOCKET[0],
                outbound_port=SOCKET[1])
    base.update(kw)
    return load_settings(**base)


@pytest.fixture
async def server():
    srv = Server(make_settings())
    yield srv
    await srv.close()


def parse(resp) -> ET.Element:
    assert resp.code == 200, resp.body
    assert resp.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(resp.body)
    assert root.tag == "document" and root.get("type") == "freeswitch/xml"
    return root


def is_not_found(resp) -> bool:
    return resp.code == 200 and resp.body.decode() == NOT_FOUND_XML


def count(section: str, result: str) -> float:
    return XML_CURL_REQUESTS.labels(section=section, result=result)._value.get()


# --- the recorded requests -----------------------------------------------------------------
@pytest.mark.parametrize("index", range(len(recorded())))
async def test_every_recorded_request_gets_a_wellformed_answer(server, index):
    rec = recorded()[index]
    form = rec["form"]
    body = fs_body(form)
    assert len(body) == int(rec["headers"]["Content-Length"])  # we send exactly what FreeSWITCH sent
    resp = await server.post(body, {"User-Agent": rec["headers"]["User-Agent"]})
    root = parse(resp)
    if form["section"] == "dialplan":
        section = root.find("section")
        assert section.get("name") == "dialplan"
        assert section.find("context").get("name") == form["Caller-Context"]
    else:  # nothing but the dialplan is served before tenant data is wired
        assert is_not_found(resp)


async def test_recorded_dialplan_lookup_goes_to_the_outbound_socket(server):
    form = next(r["form"] for r in recorded() if r["form"]["section"] == "dialplan")
    before = count("dialplan", "found")
    root = parse(await server.post(fs_body(form)))
    ctx = root.find("section[@name='dialplan']/context")
    assert ctx.get("name") == "default"
    cond = ctx.find("extension/condition")
    actions = [(a.get("application"), a.get("data")) for a in cond.findall("action")]
    assert actions == [
        ("set", "pult_context=default"),
        ("set", "pult_destination_number=no_such_ext"),
        ("socket", f"{SOCKET[0]}:{SOCKET[1]} async full"),
    ]
    assert count("dialplan", "found") == before + 1


async def test_recorded_directory_lookup_is_answered_by_a_provider(tmp_path):
    """sip_auth for 1000@127.0.0.1 (as recorded) answered from an in-memory directory."""
    domain = DirectoryDomain("127.0.0.1", pbx_id=7)
    users = {"1000": DirectoryUser("1000", password="Secret-1000", extension="100",
                                   caller_id_name='Ivanov "<boss>" & Co', user_context="vpbx7")}

    async def directory(req: XmlCurlRequest):
        user = users.get(req.user) if req.domain == domain.name else None
        return build_directory(domain, [user]) if user else None

    srv = Server(make_settings(), dataclasses.replace(Providers.default(make_settings()), directory=directory))
    try:
        form = next(r["form"] for r in recorded() if r["form"]["section"] == "directory")
        resp = await srv.post(fs_body(form))
        root = parse(resp)
        user = root.find("section[@name='directory']/domain[@name='127.0.0.1']/users/user[@id='1000']")
        params = {p.get("name"): p.get("value") for p in user.findall("params/param")}
        assert params == {"a1-hash": a1_hash("1000", "127.0.0.1", "Secret-1000")}
        assert b"Secret-1000" not in resp.body
        variables = {v.get("name"): v.get("value") for v in user.findall("variables/variable")}
        assert variables["effective_caller_id_name"] == 'Ivanov "<boss>" & Co'
        # an unknown user of the same lookup shape is "not found"
        assert is_not_found(await srv.post(fs_body({**form, "user": "1001", "sip_auth_username": "1001"})))
    finally:
        await srv.close()


# --- access control --------------------------------------------------------------------------
async def test_wrong_or_missing_secret_is_401(server, caplog):
    body = fs_body(recorded()[0]["form"])
    before = count("unknown", "denied")
    with caplog.at_level(logging.WARNING, logger="fs_config.http"):
        missing = await server.post(body, auth=False)
        wrong = await server.post(body, {"Authorization": basic("freeswitch", "nope")})
        garbage = await server.post(body, {"Authorization": "Basic !!!not-base64"})
        bearer = await server.post(body, {"Authorization": f"Bearer {SECRET}"})
    for resp in (missing, wrong, garbage, bearer):
        assert resp.code == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
        assert b"document" not in resp.body
    assert count("unknown", "denied") == before + 4
    assert "refused (401)" in caplog.text


async def test_any_user_name_with_the_right_secret_is_accepted(server):
    resp = await server.post(fs_body(recorded()[0]["form"]), {"Authorization": basic("fs-node-2", SECRET)})
    assert is_not_found(resp)


async def test_address_outside_the_allow_list_is_403_even_with_the_secret():
    srv = Server(make_settings(xml_curl_allow="10.0.0.0/8, 192.0.2.1"))
    try:
        resp = await srv.post(fs_body(recorded()[0]["form"]))
        assert resp.code == 403
        # forwarded headers are not believed from an untrusted peer
        resp = await srv.post(fs_body(recorded()[0]["form"]), {"X-Real-IP": "10.1.2.3",
                                                               "X-Forwarded-For": "10.1.2.3"})
        assert resp.code == 403
    finally:
        await srv.close()


async def test_xheaders_in_the_app_do_not_let_a_client_spoof_its_address():
    srv = Server(make_settings(xml_curl_allow="10.0.0.0/8"), xheaders=True)
    try:
        resp = await srv.post(fs_body(recorded()[0]["form"]), {"X-Real-IP": "10.1.2.3"})
        assert resp.code == 403
    finally:
        await srv.close()


async def test_trusted_proxy_passes_the_real_address():
    srv = Server(make_settings(xml_curl_allow="192.0.2.0/24"), trusted_proxies="127.0.0.1/32")
    try:
        form = recorded()[0]["form"]
        assert is_not_found(await srv.post(fs_body(form), {"X-Real-IP": "192.0.2.10"}))
        assert (await srv.post(fs_body(form), {"X-Real-IP": "198.51.100.7"})).code == 403
        assert (await srv.post(fs_body(form))).code == 403  # proxy did not say who asked
        assert (await srv.post(fs_body(form), {"X-Real-IP": "not-an-ip"})).code == 403
    finally:
        await srv.close()


async def test_without_a_configured_secret_one_is_generated_at_first_start(tmp_path):
    """An allowed address alone is not enough (any local process could read every a1-hash): with
    PULT_XML_CURL_SECRET unset a secret is generated into the data directory (0600), kept across
    restarts, required from every caller, and printed into the FreeSWITCH snippet."""
    from fs_config.snippet import freeswitch_vars

    settings = make_settings(xml_curl_secret=None, xml_curl_allow="127.0.0.1", data_dir=tmp_path)
    srv = Server(settings)
    try:
        path = tmp_path / "xml_curl_secret"
        generated = path.read_text().strip()
        assert len(generated) >= 32 and path.stat().st_mode & 0o777 == 0o600
        body = fs_body(recorded()[0]["form"])
        assert (await srv.post(body, auth=False)).code == 401
        assert (await srv.post(body, {"Authorization": basic("freeswitch", "change-me-xml-curl")})).code == 401
        assert is_not_found(await srv.post(body, {"Authorization": basic("freeswitch", generated)}))
    finally:
        await srv.close()
    again = make_settings(xml_curl_secret=None, data_dir=tmp_path)
    assert again.xml_curl_password() == generated  # the same secret after a restart
    snippet = freeswitch_vars(again)
    sets = [e.get("data") for e in ET.fromstring(snippet).iter("X-PRE-PROCESS")]  # well-formed XML
    assert f"pult_xml_curl_secret={generated}" in sets
    assert f'data="pult_xml_curl_secret={generated}"' in snippet
    # the switch is pointed at the FreeSWITCH port (PULT_FS_PORT), for lookups and call records
    assert 'data="pult_xml_curl_url=http://127.0.0.1:8085/fs/xml-curl"' in snippet
    assert 'data="pult_cdr_url=http://127.0.0.1:8085/fs/cdr"' in snippet
    assert snippet.startswith("<!-- vars_pult.xml for FreeSWITCH node fs1,")
    elsewhere = freeswitch_vars(make_settings(xml_curl_secret=None, data_dir=tmp_path, fs_host="10.0.0.7",
                                              fs_port=9085))
    assert 'data="pult_xml_curl_url=http://10.0.0.7:9085/fs/xml-curl"' in elsewhere


async def test_no_allow_list_and_no_configured_secret_still_needs_the_generated_secret(tmp_path):
    srv = Server(make_settings(xml_curl_secret=None, xml_curl_allow="", data_dir=tmp_path))
    try:
        assert (await srv.post(fs_body(recorded()[0]["form"]), auth=False)).code == 401
    finally:
        await srv.close()


async def test_refused_caller_with_a_big_body_gets_403_not_a_hang(server):
    resp = await server.post(b"x=" + b"a" * 300_000, auth=False, request_timeout=10)
    assert resp.code == 401


def test_bad_allow_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="PULT_XML_CURL_ALLOW: '10.0.0.300/8'"):
        routes(make_settings(xml_curl_allow="127.0.0.1,10.0.0.300/8"))


def test_default_providers_refuse_a_wildcard_socket_host():
    with pytest.raises(ValueError, match="wildcard"):
        Providers.default(make_settings(outbound_host="0.0.0.0"))


async def test_free_outbound_port_without_address_answers_not_found_until_known(caplog):
    """PULT_OUTBOUND_PORT=0: the dialplan needs the outbound server's real address."""
    form = next(r["form"] for r in recorded() if r["form"]["section"] == "dialplan")
    srv = Server(make_settings(outbound_port=0))
    try:
        with caplog.at_level(logging.ERROR, logger="fs_config.dialplan"):
            assert is_not_found(await srv.post(fs_body(form)))
        assert "outbound socket address unknown" in caplog.text
    finally:
        await srv.close()
    bound = {}
    srv = Server(make_settings(outbound_port=0), socket_address=lambda: bound.get("addr"))
    try:
        assert is_not_found(await srv.post(fs_body(form)))
        bound["addr"] = ("127.0.0.1", 40123)  # the outbound server is listening now
        root = parse(await srv.post(fs_body(form)))
        assert root.find(".//action[@application='socket']").get("data") == "127.0.0.1:40123 async full"
    finally:
        await srv.close()


async def test_app_wide_xsrf_protection_does_not_block_freeswitch():
    srv = Server(make_settings(), app_settings={"xsrf_cookies": True, "cross_origin_protection": True})
    try:
        form = next(r["form"] for r in recorded() if r["form"]["section"] == "dialplan")
        parse(await srv.post(fs_body(form)))
    finally:
        await srv.close()


# --- malformed input -----------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    b"",
    b"\x00\xff\xfe garbage \x80\x81",
    b"section",
    b"section=nosuchsection&key_value=x",
    b"hostname=vm&tag_name=domain&key_name=name&key_value=example.com",  # no section
    b"section=%ZZ&&&==&%",
    b"section=directory&" + b"&".join(b"f%d=%d" % (i, i) for i in range(20_000)),  # many fields
    b"section=directory&user=" + b"A" * 600_000,  # over the body limit
    b"section=dialplan&Caller-Context=nosuchcontext&Caller-Destination-Number=1",
    b"section=dialplan",  # no context
    "section=directory&user=\u0416\u0416&domain=\u00e9".encode("utf-8"),
])
async def test_malformed_bodies_get_not_found_never_500(server, body):
    resp = await server.post(body)
    assert is_not_found(resp), (resp.code, resp.body[:200])


async def test_wrong_content_type_and_content_encoding_still_not_found(server):
    body = fs_body(recorded()[0]["form"])
    assert is_not_found(await server.post(body, {"Content-Type": "multipart/form-data; boundary=zz"}))
    assert is_not_found(await server.post(body, {"Content-Encoding": "br"}))


async def test_get_style_lookup_is_served_too(server):
    form = next(r["form"] for r in recorded() if r["form"]["section"] == "dialplan")
    req = HTTPRequest(server.url + "?" + urlencode(form), method="GET",
                      headers={"Authorization": basic("freeswitch", SECRET)})
    root = parse(await server.client.fetch(req, raise_error=False))
    assert root.find("section/context").get("name") == "default"


async def test_failing_slow_and_wrong_providers_answer_not_found(caplog):
    async def boom(req):
        raise RuntimeError("storage down")

    async def slow(req):
        await asyncio.sleep(5)

    async def wrong(req):
        return b"<bytes/>"

    providers = Providers(directory=boom, configuration=slow, dialplan=wrong)
    srv = Server(make_settings(), providers, timeout=0.2)
    try:
        before = count("directory", "error")
        with caplog.at_level(logging.ERROR, logger="fs_config.http"):
            for section in ("directory", "configuration", "dialplan"):
                assert is_not_found(await srv.post(f"section={section}&key_value=x"))
        assert "storage down" in caplog.text and "took over" in caplog.text and "not str" in caplog.text
        assert count("directory", "error") == before + 1
    finally:
        await srv.close()


async def test_tenant_call_variables_and_injection_attempt():
    srv = Server(make_settings())
    try:
        form = {"section": "dialplan", "Caller-Context": "vpbx42", "Hunt-Context": "vpbx42",
                "Caller-Destination-Number": "${system(rm -rf /)}", "Unique-ID": "u-1",
                "variable_user_name": "ivanov", "variable_domain_name": "vpbx42.pult.local"}
        root = parse(await srv.post(fs_body(form)))
        data = [a.get("data") for a in root.iter("action")]
        assert data == ["pult_context=vpbx42", "pult_pbx_id=42", "pult_domain=vpbx42.pult.local",
                        "pult_user=ivanov", f"{SOCKET[0]}:{SOCKET[1]} async full"]
    finally:
        await srv.close()


async def test_expect_100_continue_as_older_curl_sends_it(server):
    form = next(r["form"] for r in recorded() if r["form"]["section"] == "dialplan")
    resp = await server.post(fs_body(form), expect_100_continue=True)
    assert parse(resp).find("section/context").get("name") == "default"


async def test_unexpected_error_in_the_handler_still_answers_not_found():
    class Broken(Providers):
        def for_section(self, section):
            raise RuntimeError("bug in dispatch")

    srv = Server(make_settings(), Broken())
    try:
        before = count("unknown", "error")
        assert is_not_found(await srv.post("section=directory"))
        assert count("unknown", "error") == before + 1
    finally:
        await srv.close()
