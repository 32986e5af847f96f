"""The whole server as ``pult serve`` runs it, against the FreeSWITCH simulator, real Redis and
the embedded store: a call arrives over the outbound socket, is answered, played and hung up by
the default flow, and lands once in the call history the cabinet API shows; mod_xml_curl hands
dialplan lookups to the same outbound socket; readiness reports the node."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jobs.testing import TEST_REDIS_BASE
from pult.cli import seed_demo, serve
from pult.settings import load_settings, set_settings

pytestmark = pytest.mark.timeout(90)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(settings):
    """``pult serve`` with ``settings``, in this process and ready; stopped (its task finished)
    afterwards."""
    set_settings(settings)
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, ready=ready, stop=stop))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 40)
        set_settings(None)


@pytest.fixture
async def running(tmp_path, fsim, monkeypatch):
    monkeypatch.delenv("MONGO_URL", raising=False)
    settings = load_settings(
        data_dir=tmp_path / "data", http_port=_free_port(), outbound_port=_free_port(), fs_port=_free_port(),
        esl_nodes=f"fs-test=127.0.0.1:{fsim.port}:ClueCon", redis_url=f"{TEST_REDIS_BASE}/12",
        xml_curl_secret="s3cret-xml", esl_reconnect_min=0.05, esl_reconnect_max=0.5)
    set_settings(settings)
    creds = await seed_demo(settings)
    fsim.outbound_target = ("127.0.0.1", settings.outbound_port)
    async with serving(settings):
        yield settings, creds, fsim


class Browser:
    """A cookie-keeping HTTP client that logs in like the cabinet's API clients do."""

    def __init__(self, base: str):
        self.base, self.cookies, self.http = base, {}, AsyncHTTPClient()

    async def request(self, path, method="GET", body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "_xsrf" in self.cookies:
            h["X-XSRFToken"] = self.cookies["_xsrf"]
        resp = await self.http.fetch(self.base + path, method=method, headers=h, body=body,
                                     raise_error=False, follow_redirects=False)
        for c in resp.headers.get_list("Set-Cookie"):
            k, _, v = c.split(";", 1)[0].partition("=")
            self.cookies[k.strip()] = v.strip()
        return resp


async def _login(b: Browser, login: str, password: str):
    await b.request("/api/v1/session")  # gets the _xsrf cookie
    resp = await b.request("/api/v1/session", "POST",
                           json.dumps({"login": login, "password": password}),
                           {"Content-Type": "application/json"})
    assert resp.code == 200, resp.body


async def test_a_call_is_answered_and_lands_once_in_the_tenants_history(running):
    settings, creds, sim = running
    base = settings.public_url
    http = AsyncHTTPClient()
    # the node is up, the embedded worker too (readiness counts workers), and readiness says so
    for _ in range(400):
        ready = json.loads((await http.fetch(base + "/readyz", raise_error=False)).body)
        if ready["checks"]["nodes"] and ready["checks"]["nodes"][0]["state"] == "up" \
                and ready["status"] == "ready":
            break
        await asyncio.sleep(0.05)
    assert ready["status"] == "ready"
    assert ready["checks"]["nodes"][0]["name"] == "fs-test"
    assert ready["checks"]["nodes"][0]["state"] == "up"

    call = await sim.place_call(caller="79161234567", destination="74951234567",
                                variables={"pult_pbx_id": str(creds["pbx_id"])})
    await call.wait_ended(10)
    names = call.event_names()
    assert "CHANNEL_ANSWER" in names and "PLAYBACK_START" in names
    assert any(c.line.startswith("sendmsg") or "execute" in c.line for c in sim.received_commands)

    tenant = Browser(base)
    await _login(tenant, creds["tenant"]["login"], creds["tenant"]["password"])
    for _ in range(100):
        page = json.loads((await tenant.request("/api/v1/calls")).body)
        if page["items"]:
            break
        await asyncio.sleep(0.05)
    assert page["total"] == 1, page
    rec = page["items"][0]
    assert rec["uuid"] == call.uuid
    assert rec["caller"] == "79161234567" and rec["callee"] == "74951234567"
    assert rec["node"] == "fs-test"
    await asyncio.sleep(0.3)  # the inbound copy of the same hangup event must not add a record
    assert json.loads((await tenant.request("/api/v1/calls")).body)["total"] == 1

    # Prometheus sees the node, its events and the stored record
    metrics = (await http.fetch(base + "/metrics")).body.decode()
    assert 'pult_fs_node_up{node="fs-test"} 1.0' in metrics
    events = [line for line in metrics.splitlines()
              if line.startswith('pult_esl_events_total{node="fs-test"}')]
    assert events and float(events[0].split()[-1]) > 0
    assert 'pult_call_records_total{node="fs-test"}' in metrics
    assert 'pult_job_queue_length{queue="mail"}' in metrics

    # the operator sees the node in the console API
    op = Browser(base)
    await _login(op, creds["operator"]["login"], creds["operator"]["password"])
    nodes = json.loads((await op.request("/api/v1/nodes")).body)
    items = nodes["items"] if isinstance(nodes, dict) else nodes
    assert items[0]["name"] == "fs-test" and items[0]["state"] == "up"


async def test_xml_curl_hands_the_dialplan_to_the_outbound_socket(running):
    settings, _, _ = running
    http = AsyncHTTPClient()
    form = urllib.parse.urlencode({"section": "dialplan", "Hunt-Context": "public",
                                   "Caller-Destination-Number": "74951234567",
                                   "Caller-Caller-ID-Number": "79161234567"})
    url = settings.public_url + "/fs/xml-curl"
    with pytest.raises(HTTPClientError) as denied:
        await http.fetch(url, method="POST", body=form)
    assert denied.value.code == 401
    resp = await http.fetch(url, method="POST", body=form, auth_username="freeswitch",
                            auth_password="s3cret-xml")
    body = resp.body.decode()
    assert f"127.0.0.1:{settings.outbound_port} async full" in body
    unknown = await http.fetch(url, method="POST", auth_username="freeswitch",
                               auth_password="s3cret-xml",
                               body=urllib.parse.urlencode({"section": "phrases", "x-new": "1"}))
    assert 'status="not found"' in unknown.body.decode()


def _dialplan_lookup(url: str) -> str:
    """A public-context dialplan lookup of the demo number, as mod_xml_curl makes it (blocking)."""
    form = urllib.parse.urlencode({"section": "dialplan", "Hunt-Context": "public",
                                   "Caller-Destination-Number": "74951234567",
                                   "Caller-Caller-ID-Number": "79161234567"}).encode()
    req = urllib.request.Request(url, data=form, method="POST", headers={
        "Authorization": "Basic " + base64.b64encode(b"freeswitch:s3cret-xml").decode()})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read().decode()


async def test_the_fs_port_answers_xml_curl_while_the_main_loop_is_blocked(running):
    """The main event loop (cabinet, API) is held busy; meanwhile a dialplan lookup on the
    FreeSWITCH port is answered from the store — the order of events proves it, no timing."""
    settings, creds, _ = running
    fs_url = f"http://127.0.0.1:{settings.fs_port}/fs/xml-curl"
    # the same routes on both ports, the same answer
    main_answer = await asyncio.to_thread(_dialplan_lookup, settings.public_url + "/fs/xml-curl")
    assert f"127.0.0.1:{settings.outbound_port} async full" in main_answer
    assert f"pult_pbx_id={creds['pbx_id']}" in main_answer

    events: list[str] = []
    blocked, release = threading.Event(), threading.Event()

    def switch() -> None:  # FreeSWITCH, asking while the main loop cannot run anything
        blocked.wait(30)
        try:
            answer = _dialplan_lookup(fs_url)
            events.append("fs port answered" if answer == main_answer else f"fs port: {answer[:200]}")
            health = urllib.request.urlopen(f"http://127.0.0.1:{settings.fs_port}/healthz", timeout=30)
            events.append(f"fs /healthz {health.status}")
        except Exception as exc:
            events.append(f"fs port failed: {exc!r}")
        finally:
            release.set()

    thread = threading.Thread(target=switch)
    thread.start()
    # hold the main loop: nothing scheduled on it runs until the switch's lookup is done
    events.append("main loop blocked")
    blocked.set()
    release.wait(30)
    events.append("main loop released")
    await asyncio.to_thread(thread.join, 30)
    assert events == ["main loop blocked", "fs port answered", "fs /healthz 200", "main loop released"]


async def test_a_call_record_posted_to_the_fs_port_is_stored_once(running):
    """mod_json_cdr on the FreeSWITCH port: the record is handed to the main loop's call-record
    writer and lands once in the tenant's history."""
    from tests.integration.test_fs_cdr_http import UUID, json_cdr

    settings, creds, _ = running
    doc = json_cdr(pult_pbx_id=str(creds["pbx_id"]))
    doc["switchname"] = "fs-test"
    http = AsyncHTTPClient()
    url = f"http://127.0.0.1:{settings.fs_port}/fs/cdr?uuid={UUID}"
    answers = [await http.fetch(url, method="POST", body=json.dumps(doc), auth_username="freeswitch",
                                auth_password="s3cret-xml", raise_error=False) for _ in range(2)]
    assert [(a.code, a.body) for a in answers] == [(200, b"stored\n"), (200, b"already stored\n")]
    tenant = Browser(settings.public_url)
    await _login(tenant, creds["tenant"]["login"], creds["tenant"]["password"])
    page = json.loads((await tenant.request("/api/v1/calls")).body)
    assert [(r["uuid"], r["node"], r["caller"]) for r in page["items"]] == [(UUID, "fs-test", "79161234567")]


async def test_stopping_the_server_ends_the_fs_thread_and_frees_its_port(tmp_path, monkeypatch):
    monkeypatch.delenv("MONGO_URL", raising=False)
    settings = load_settings(data_dir=tmp_path / "data", http_port=_free_port(), outbound_port=0,
                             fs_port=_free_port(), redis_url=f"{TEST_REDIS_BASE}/12")
    async with serving(settings):
        http = AsyncHTTPClient()
        fs = f"http://127.0.0.1:{settings.fs_port}"
        assert (await http.fetch(fs + "/healthz")).code == 200
        assert (await http.fetch(fs + "/login", raise_error=False)).code == 404  # no cabinet there
        assert [t.name for t in threading.enumerate()].count("pult-fs-http") == 1
    assert "pult-fs-http" not in [t.name for t in threading.enumerate()]
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", settings.fs_port))


def test_cli_names_the_wrong_setting_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pult.cli", "check-config"], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PULT_HTTP_PORT": "eighty",
                                          "PULT_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "PULT_HTTP_PORT='eighty'" in proc.stderr and "valid integer" in proc.stderr


def test_cli_create_admin_refuses_a_weak_password_with_the_policy(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pult.cli", "create-admin", "boss",
                           "boss@example.com", "--password", "short1"], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PULT_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert "10" in proc.stderr  # the message states the minimum length
    ok = subprocess.run([sys.executable, "-m", "pult.cli", "create-admin", "boss",
                         "boss@example.com", "--generate"], capture_output=True, text=True,
                        env={"PATH": "/usr/bin:/bin", "PULT_DATA_DIR": str(tmp_path)})
    assert ok.returncode == 0, ok.stderr
    assert "operator administrator 'boss' created with password" in ok.stdout


async def test_redis_down_at_start_is_reported_and_the_rest_keeps_serving(tmp_path, monkeypatch):
    """No Redis: the server still starts, serves pages and liveness, readiness names Redis, and
    the embedded worker keeps retrying instead of taking the process down."""
    monkeypatch.delenv("MONGO_URL", raising=False)
    dead = _free_port()  # a port nothing listens on
    settings = load_settings(data_dir=tmp_path / "data", http_port=_free_port(), outbound_port=0, fs_port=0,
                             redis_url=f"redis://127.0.0.1:{dead}/0")
    async with serving(settings):
        http = AsyncHTTPClient()
        assert (await http.fetch(settings.public_url + "/healthz")).code == 200
        login = await http.fetch(settings.public_url + "/login", raise_error=False)
        assert login.code == 200
        resp = await http.fetch(settings.public_url + "/readyz", raise_error=False)
        report = json.loads(resp.body)
        # no worker can run without Redis: readiness says so too (issue 9 item 2)
        assert resp.code == 503 and report["failing"] == ["redis", "workers"]
        assert report["checks"]["workers"]["embedded"]["running"] is False
        assert str(dead) in report["checks"]["redis"]["error"]


async def test_the_demo_can_issue_an_invoice_at_once(tmp_path, monkeypatch):
    """`pult seed-demo` seeds the operator's requisites, so a newcomer's first invoice is not
    refused for a blank supplier block (issue 9 item 7); an operator's own entry is kept."""
    from jobs.billing.documents import DEMO_SUPPLIER, check_supplier
    from storage.client import open_store
    from storage.repos.tenants import get_platform_settings, save_platform_settings

    monkeypatch.delenv("MONGO_URL", raising=False)
    settings = load_settings(data_dir=tmp_path / "data", http_port=_free_port(), outbound_port=0)
    set_settings(settings)
    try:
        await seed_demo(settings)
        store = open_store(settings)
        await store.start()
        try:
            await check_supplier(store.db, settings)  # does not raise
            assert (await get_platform_settings(store.db))["supplier"]["inn"] == DEMO_SUPPLIER["inn"]
            await save_platform_settings(store.db, {"supplier": {**DEMO_SUPPLIER, "name": "ООО «Свой оператор»"}})
        finally:
            await store.close()
        await seed_demo(settings)  # a second run keeps what the operator entered
        store = open_store(settings)
        await store.start()
        try:
            assert (await get_platform_settings(store.db))["supplier"]["name"] == "ООО «Свой оператор»"
        finally:
            await store.close()
    finally:
        set_settings(None)
