"""Webhooks over the REST API and the cabinet page (one use case each): round trip with the secret,
"Send a test event" to a real receiver that verifies the signature, RU/EN errors, the SSRF guard,
the delivery log and redelivery, the rights of the ``integrations`` section."""
from __future__ import annotations

import pytest
import pytest_asyncio

from esl_control.model.webhooks.services import emit
from tests.integration.tel_api_harness import tel_stack
from tests.integration.test_webhooks import Receiver

pytestmark = pytest.mark.asyncio(loop_scope="module")
W = "/api/v1/webhooks"


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack(webhook_allow_private=True) as stack:  # the receiver is on loopback
        yield stack


async def test_api_round_trip_with_the_secret_and_a_test_event(st, receiver):
    async with st.client("101/admin") as c:
        types = (await c.get("/api/v1/webhook-event-types")).json()["items"]
        assert {"call.started", "call.missed", "employee.changed"} <= {t["type"] for t in types if t["emitted"]}
        assert {t["type"] for t in types if not t["emitted"]} == {"recording.ready", "fax.delivered"}
        # "send a test event" before saving: signed with the typed secret, nothing saved
        receiver.secret = "whsec_form-secret-000000001"
        r = await c.api("POST", "/api/v1/webhook-tests", json={"url": receiver.url, "secret": receiver.secret})
        assert r.status_code == 200, r.text
        assert r.json()["ok"] and r.json()["status_code"] == 200
        assert receiver.accepted[-1]["json"]["type"] == "webhook.test"
        assert (await c.get(W)).json()["total"] == 0
        r = await c.api("POST", W, json={"url": receiver.url, "events": ["call.ended", "call.missed"],
                                         "secret": receiver.secret, "description": "CRM"})
        assert r.status_code == 201, r.text
        sub = r.json()
        assert sub["secret"] == receiver.secret and sub["active"] is True
        listed = (await c.get(W)).json()["items"]
        assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0] or listed[0]["secret"] is None
        assert (await c.get(f"{W}/{sub['id']}")).json()["secret"] == receiver.secret
        r = await c.api("PATCH", f"{W}/{sub['id']}", json={"events": ["call.started"]})
        assert r.status_code == 200 and r.json()["events"] == ["call.started"] and r.json()["secret"] == receiver.secret
        # a new secret: the saved subscription's test is signed with it
        new = (await c.api("POST", f"{W}/{sub['id']}/secret")).json()["secret"]
        assert new != receiver.secret
        receiver.secret = new
        r = await c.api("POST", f"{W}/{sub['id']}/test", json={})
        assert r.json()["ok"], r.text
        assert (await c.api("DELETE", f"{W}/{sub['id']}")).status_code == 200
        assert (await c.get(f"{W}/{sub['id']}")).status_code == 404


async def test_errors_name_the_field_in_both_languages_and_change_nothing(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        for client, text in ((c, "link-local"), (ru, "метаданные облака")):
            r = await client.api("POST", W, json={"url": "http://169.254.169.254/latest/", "events": ["call.ended"]})
            assert r.status_code == 422 and text in r.json()["error"]["fields"]["url"], r.text
        r = await ru.api("POST", W, json={"url": "https://crm.example.ru/h", "events": ["call.exploded"]})
        assert r.status_code == 422 and "Неизвестный тип события" in r.json()["error"]["fields"]["events"]
        r = await c.api("POST", W, json={"url": "https://crm.example.ru/h", "events": ["call.ended"], "secret": "short"})
        assert r.status_code == 422 and "secret" in r.json()["error"]["fields"]
        assert (await c.get(W)).json()["total"] == 0


async def test_the_delivery_log_and_redelivery_over_the_api(st, receiver):
    async with st.client("101/admin") as c:
        sub = (await c.api("POST", W, json={"url": receiver.url, "events": ["call.ended"]})).json()
        (did,) = await emit(st.db, 101, "call.ended", {"call_id": "c-1"}, event_id="call.ended:c-1")
        log = (await c.get(f"{W}/{sub['id']}/deliveries")).json()
        assert log["total"] == 1 and log["items"][0]["id"] == did and log["items"][0]["event_type"] == "call.ended"
        one = (await c.get(f"{W}/{sub['id']}/deliveries/{did}")).json()
        assert '"call_id":"c-1"' in one["body"]
        # a failed delivery can be sent again: a new round, queued
        await st.db["webhook_deliveries"].update_one({"_id": did}, {"$set": {"status": "failed"}})
        r = await c.api("POST", f"{W}/{sub['id']}/deliveries/{did}/redeliver")
        assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["round"] == 1
        await c.api("DELETE", f"{W}/{sub['id']}")


async def test_an_employee_may_not_manage_webhooks(st):
    async with st.client("101/emp") as c:
        r = await c.api("POST", W, json={"url": "https://crm.example.ru/h", "events": ["call.ended"]})
        assert r.status_code == 403


async def test_the_cabinet_page_tests_before_saving_and_saves(st, receiver):
    async with st.client("101/adminru", lang="ru") as c:
        page = await c.get("/integrations/webhooks")
        assert page.status_code == 200 and "Вебхуки" in page.text and "Отправить тестовое событие" in page.text
        token = await c.ensure_xsrf()
        receiver.secret = "whsec_page-secret-0000000001"
        r = await c.request("POST", "/integrations/webhooks", data={
            "_xsrf": token, "url": receiver.url, "secret": receiver.secret, "events": "employee.changed",
            "active": "on", "action": "test"})
        assert r.status_code == 200 and 'id="test-result"' in r.text and "Тестовое событие доставлено" in r.text
        assert receiver.accepted[-1]["json"]["type"] == "webhook.test"
        assert (await st.db["webhook_subscriptions"].count_documents({"pbx_id": 101})) == 0
        r = await c.request("POST", "/integrations/webhooks", data={
            "_xsrf": token, "url": "http://169.254.169.254/", "events": "employee.changed", "action": "save"})
        assert r.status_code == 422 and "метаданные облака" in r.text
        r = await c.request("POST", "/integrations/webhooks", data={
            "_xsrf": token, "url": receiver.url, "secret": receiver.secret, "events": "employee.changed",
            "active": "on", "action": "save"})
        assert r.status_code == 302, r.text
        sid = r.headers["Location"].split("/")[-1].split("?")[0]
        page = await c.get(f"/integrations/webhooks/{sid}")
        assert page.status_code == 200 and receiver.secret in page.text and "Журнал доставок" in page.text
        # switched off by Pult after failed deliveries: the page says why and how to switch it on
        await st.db["webhook_subscriptions"].update_one({"_id": sid}, {"$set": {
            "active": False, "consecutive_failures": 5, "disabled_reason": "answered 500 Internal Server Error"}})
        page = await c.get(f"/integrations/webhooks/{sid}")
        assert 'id="disabled-notice"' in page.text and "Pult отключил этот вебхук после 5" in page.text
        listing = await c.get("/integrations/webhooks")
        assert "отключён после неудачных доставок" in listing.text
