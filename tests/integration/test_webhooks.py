"""Signed webhooks end to end (issue 13): a real local HTTP receiver that verifies the signature
the way docs/webhooks.md tells integrators to, a real worker on the ``webhooks`` queue, the store.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from esl_control.model.employees.services import EmployeeService
from esl_control.model.webhooks import events
from esl_control.model.webhooks.services import WebhookService, emit
from esl_control.routing.errors import RuleError
from jobs import context
from jobs.testing import TEST_REDIS_URL, configure_for_tests, running_worker
from pult.settings import load_settings, set_settings
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_tenant_user
from pult.passwords import set_hash_profile
from tests.integration.harness import jobs_prefix, wait_for  # noqa: F401  (jobs_prefix: a fixture)

PBX = 101


class Receiver:
    """An integrator's endpoint: verifies ``Pult-Signature`` (HMAC-SHA256 over ``t.body``, at most
    5 minutes old), answers 401 to a bad one, and records what it accepted. ``script`` lists status
    codes to answer first (then 200). A subclass answers signed requests its own way (``take``)."""

    path = "/hooks"

    def __init__(self):
        self.secret = ""
        self.accepted: list[dict] = []
        self.refused = 0
        self.script: list[int] = []
        self.seen_ids: set[str] = set()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                # --- the receiver's check, as in docs/webhooks.md
                ok = events.verify(outer.secret, self.headers.get("Pult-Signature"), body, time.time())
                if not ok:
                    outer.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.take(self, body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        """Answer a signed request: the next scripted status (then 200); a 200's request is kept."""
        status = self.script.pop(0) if self.script else 200
        if status == 200:
            self.accepted.append({"headers": dict(request.headers), "json": json.loads(body)})
        request.send_response(status)
        request.end_headers()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def settings(tmp_path, monkeypatch, jobs_prefix):
    monkeypatch.delenv("MONGO_URL", raising=False)
    s = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0, redis_url=TEST_REDIS_URL,
                      log_level="WARNING", webhook_allow_private=True,  # the receiver is on loopback
                      webhook_max_retries=2, webhook_disable_after=2)
    set_settings(s)
    configure_for_tests(s, jobs_prefix)
    yield s
    set_settings(None)


@pytest.fixture
async def pbx(store):
    set_hash_profile("cheapest")
    acc = await create_account(store.db, "Alpha", "owner@alpha.example")
    p = await create_pbx(store.db, acc["account_id"], "Alpha", "pult.test")
    assert p["pbx_id"] == PBX
    yield p
    set_hash_profile("default")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def worker(settings, store):
    with running_worker(settings, store=store, loop=asyncio.get_event_loop(), queues="webhooks,mail",
                        concurrency=2) as handle:
        yield handle


async def subscribe(store, receiver, events_=("employee.changed",), **kw) -> dict:
    sub = await WebhookService(store.db, PBX).create({"url": receiver.url, "events": list(events_), **kw})
    receiver.secret = sub["secret"]
    return sub


async def test_an_employee_change_reaches_the_receiver_signed_and_logged(store, pbx, receiver, worker):
    sub = await subscribe(store, receiver)
    assert sub["secret"].startswith("whsec_")
    emp = await EmployeeService(store.db, PBX).create({"name": "Анна Петрова", "extension": "201"})
    await wait_for(lambda: _async(len(receiver.accepted) == 1), what="the delivery")
    got = receiver.accepted[0]
    assert got["json"]["type"] == "employee.changed" and got["json"]["pbx_id"] == PBX
    assert got["json"]["data"]["employee"]["name"] == "Анна Петрова"
    assert got["json"]["data"]["employee_id"] == emp["id"] and got["json"]["data"]["operation"] == "create"
    assert got["headers"]["Pult-Event-Type"] == "employee.changed"
    svc = WebhookService(store.db, PBX)
    log = await wait_for(lambda: _delivered(svc, sub["id"]), what="the log entry")
    assert log[0]["attempts"] == 1 and log[0]["last_status_code"] == 200 and log[0]["response_ms"] >= 0
    assert log[0]["id"] == got["headers"]["Pult-Delivery-Id"]
    assert receiver.refused == 0


async def test_a_wrong_secret_is_refused_by_the_receiver_and_retried_then_failed(store, pbx, receiver, worker):
    sub = await subscribe(store, receiver)
    receiver.secret = "whsec_not-the-one-pult-signs-with"
    await emit(store.db, PBX, "employee.changed", {"x": 1}, event_id="e-wrong-secret")
    svc = WebhookService(store.db, PBX)
    log = await wait_for(lambda: _status(svc, sub["id"], "failed"), what="the final failure")
    assert log[0]["attempts"] == 3  # the first attempt and webhook_max_retries=2 retries
    assert log[0]["last_status_code"] == 401 and "401" in log[0]["last_error"]
    assert receiver.refused == 3 and receiver.accepted == []


async def test_a_5xx_is_retried_with_the_same_body_and_delivered_once(store, pbx, receiver, worker):
    sub = await subscribe(store, receiver)
    receiver.script = [503, 500]
    ids = await emit(store.db, PBX, "employee.changed", {"n": "Ёлка"}, event_id="e-retry")
    await emit(store.db, PBX, "employee.changed", {"n": "Ёлка"}, event_id="e-retry")  # same event: nothing new
    assert len(ids) == 1
    svc = WebhookService(store.db, PBX)
    log = await wait_for(lambda: _delivered(svc, sub["id"]), what="the delivery after retries")
    assert log[0]["attempts"] == 3
    await asyncio.sleep(0.5)
    assert len(receiver.accepted) == 1 and receiver.accepted[0]["json"]["data"] == {"n": "Ёлка"}


async def test_manual_redelivery_sends_the_same_event_again(store, pbx, receiver, worker):
    sub = await subscribe(store, receiver)
    (did,) = await emit(store.db, PBX, "employee.changed", {"k": 1}, event_id="e-redeliver")
    svc = WebhookService(store.db, PBX)
    await wait_for(lambda: _delivered(svc, sub["id"]), what="the first delivery")
    await svc.redeliver(sub["id"], did)
    await wait_for(lambda: _async(len(receiver.accepted) == 2), what="the redelivery")
    first, second = receiver.accepted
    assert first["json"] == second["json"]
    assert first["headers"]["Pult-Delivery-Id"] == second["headers"]["Pult-Delivery-Id"] == did


async def test_a_subscription_that_keeps_failing_is_switched_off_and_the_admin_told(store, pbx, receiver, worker,
                                                                                   settings):
    from jobs.testing import SmtpSink

    sink = SmtpSink().start()
    try:
        s = settings.model_copy(update={"smtp_port": sink.port, "smtp_host": "127.0.0.1"})
        set_settings(s)
        context.use_settings(s)
        sub = await subscribe(store, receiver)
        receiver.script = [500] * 100
        for n in range(2):  # webhook_disable_after=2 final failures in a row
            await emit(store.db, PBX, "employee.changed", {"n": n}, event_id=f"e-down-{n}")
        svc = WebhookService(store.db, PBX)
        await wait_for(lambda: _async_get(svc, sub["id"], lambda d: d["active"] is False), what="switched off")
        doc = await svc.get(sub["id"])
        assert "500" in doc["disabled_reason"] and doc["consecutive_failures"] == 2
        # nothing more is sent to a switched-off subscription
        assert await emit(store.db, PBX, "employee.changed", {"n": 9}, event_id="e-after") == []
        msg = await asyncio.to_thread(sink.wait_for, 1, 30)
        assert msg and "owner@alpha.example" in msg[0].rcpt_tos
        assert receiver.url.split("?")[0] in msg[0].message.get_body().get_content()
        # switched on again: a fresh start
        again = await svc.update(sub["id"], {"url": receiver.url, "events": ["employee.changed"], "active": True})
        assert again["active"] and again["consecutive_failures"] == 0 and again["disabled_reason"] is None
    finally:
        sink.stop()


async def test_send_a_test_event_before_saving(store, pbx, receiver):
    svc = WebhookService(store.db, PBX)
    receiver.secret = "whsec_typed-in-the-form-123456"
    res = await svc.test({"url": receiver.url, "secret": receiver.secret, "events": ["call.ended"]})
    assert res["ok"] and res["status_code"] == 200 and res["secret"] == receiver.secret
    assert receiver.accepted[0]["json"]["type"] == "webhook.test"
    assert await svc.list() == []  # nothing saved
    receiver.secret = "whsec_something-else-entirely"
    res = await svc.test({"url": receiver.url, "secret": "whsec_typed-in-the-form-123456"})
    assert not res["ok"] and res["status_code"] == 401


@pytest.mark.parametrize("url, code", [
    ("http://169.254.169.254/latest/meta-data/", "webhook.url_link_local"),
    ("ftp://example.com/x", "webhook.url_scheme"),
    ("", "webhook.url_required"),
])
async def test_targets_pass_the_ssrf_guard(store, pbx, url, code):
    with pytest.raises(RuleError) as err:
        await WebhookService(store.db, PBX).create({"url": url, "events": ["call.ended"]})
    assert err.value.code == code and err.value.field == "url"
    assert await WebhookService(store.db, PBX).list() == []


async def test_private_targets_need_the_setting(store, pbx):
    with pytest.raises(RuleError) as err:
        await WebhookService(store.db, PBX, allow_private=False).create({"url": "http://10.0.0.5/h", "events": ["call.ended"]})
    assert err.value.code == "webhook.url_private"


async def test_call_records_emit_ended_and_missed(store, pbx, receiver, worker, settings):
    from jobs.webhooks import on_call_record
    from storage.repos.calls import save_call_record

    await subscribe(store, receiver, events_=("call.ended", "call.missed"))
    record = {"uuid": "c-missed-1", "pbx_id": PBX, "direction": "inbound", "caller": "79001234567",
              "callee": "74951234567", "duration": 12, "billsec": 0, "hangup_cause": "NO_ANSWER"}
    assert await save_call_record(store.db, record)
    on_call_record(record)
    on_call_record(record)  # the hook twice (two writers): the events once each
    await wait_for(lambda: _async(len(receiver.accepted) >= 2), what="two events")
    await asyncio.sleep(0.5)
    types = sorted(a["json"]["type"] for a in receiver.accepted)
    assert types == ["call.ended", "call.missed"]
    assert all(a["json"]["data"]["call_id"] == "c-missed-1" for a in receiver.accepted)


async def _async(value):
    return value


async def _delivered(svc, sid):
    log = await svc.deliveries(sid)
    return log if log and log[0]["status"] == "delivered" else None


async def _status(svc, sid, status):
    log = await svc.deliveries(sid)
    return log if log and log[0]["status"] == status else None


async def _async_get(svc, sid, pred):
    doc = await svc.get(sid)
    return doc if pred(doc) else None


async def test_the_delivery_log_keeps_the_newest_deliveries_and_a_month_by_a_job(store, pbx, receiver, settings,
                                                                                   jobs_prefix):
    """The daily job prunes the delivery log: per subscription the newest ``webhook_log_keep``
    finished deliveries, none whose last activity is older than ``webhook_log_days``; a delivery
    still on its way is never removed, and another subscription's log is counted on its own."""
    from datetime import datetime, timedelta, timezone

    from jobs import client as jobs_client
    from jobs.webhooks import prune
    from pult import clock

    s = settings.model_copy(update={"webhook_log_keep": 3, "webhook_log_days": 30})
    set_settings(s)
    configure_for_tests(s, jobs_prefix)
    now = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
    a = await subscribe(store, receiver)
    b = await subscribe(store, receiver, events_=("call.ended",))
    coll = store.db["webhook_deliveries"]

    async def log(sub, name, days_ago, status="delivered", touched_days_ago=None):
        created = now - timedelta(days=days_ago)
        touched = now - timedelta(days=days_ago if touched_days_ago is None else touched_days_ago)
        await coll.insert_one({"_id": name, "pbx_id": PBX, "subscription_id": sub["id"], "event_id": name,
                               "event_type": "employee.changed", "body": "{}", "status": status, "round": 0,
                               "attempts": 1, "created_at": created, "updated_at": touched})

    for i in range(1, 6):  # a1 (newest) … a5: five finished deliveries within the month
        await log(a, f"a{i}", i, "failed" if i == 2 else "delivered")
    await log(a, "a-retrying", 7, "retrying")        # beyond the newest three, but still on its way
    await log(a, "a-old", 40, "delivered")           # older than the month
    await log(a, "a-redelivered", 45, "delivered", touched_days_ago=2)  # old, but redelivered lately
    await log(b, "b1", 50, "cancelled")              # the other subscription: older than the month
    await log(b, "b2", 1, "delivered")
    await log(b, "b-pending", 60, "pending")         # never removed while waiting

    with clock.use_clock(clock.FixedClock(now)), \
            running_worker(s, store=store, loop=asyncio.get_event_loop(), queues="webhooks", concurrency=1):
        res = await jobs_client.result(prune.apply_async().id, timeout=60)
        assert res == {"old": 2, "over": 3}
        left = {d["_id"] for d in await coll.find({}, {"_id": 1}).to_list(None)}
        assert left == {"a1", "a2", "a3", "a-retrying", "b2", "b-pending"}
        svc = WebhookService(store.db, PBX)
        assert [d["id"] for d in await svc.deliveries(a["id"])] == ["a1", "a2", "a3", "a-retrying"]
        # once pruned, a second run finds nothing
        assert await jobs_client.result(prune.apply_async().id, timeout=60) == {"old": 0, "over": 0}
