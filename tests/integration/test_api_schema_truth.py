"""What the property-based run (test_api_property.py, positive_data_acceptance) found, each pinned
by a direct request: the API tells a body that is wrong in itself (422) from one that clashes with
what is stored (409), reads JSON's 5.0 as the integer 5, answers a non-text comment with a field
message instead of a 500, a PATCH's null never blanks a PBX's or an account's name, and a PATCH
of a list entry's value takes the kind from the new value. And what the document now states of
webhooks, the account's requisites, SIP access and finance notices is what the server keeps (a
test event before saving needs its receiver, which the document said was optional), of LDAP
settings and of the employee wizard (a cabinet login another user has is a 409 conflict, no
longer a 422). Each operator action on a PBX or a pool number has its own address, so the
document states its body (assigning a number needed one the document did not list)."""
from __future__ import annotations

import pytest

from storage.repos.users import create_operator_admin
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from web.testing import WebClient

pytestmark = pytest.mark.asyncio(loop_scope="module")
E = "/api/v1/telephony/employees"


async def test_a_clash_with_stored_state_is_409_and_a_bad_body_422(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", E, json={"name": "Anna", "extension": "701"})
        assert r.status_code == 201, r.text
        # the same extension again: the body is fine, the PBX already uses it
        r = await c.api("POST", E, json={"name": "Boris", "extension": "701"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
        assert r.json()["error"]["fields"] == {"extension": "Extension 701 is already used by 'Anna'"}
        # a well-formed id that names nothing in the PBX
        r = await c.api("POST", E, json={"name": "Boris", "extension": "702", "contact_methods": [
            {"kind": "sip_account", "account_id": "0" * 24}]})
        assert r.status_code == 409 and "contact_methods" in str(r.json()["error"]["fields"]), r.text
        # wrong in itself: an emergency number as an extension, a bad time of day
        r = await c.api("POST", E, json={"name": "Boris", "extension": "112"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
        assert (await c.get(E, params={"q": "Boris"})).json()["total"] == 0


async def test_a_json_number_without_fraction_is_an_integer(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", E, json={"name": "Vera", "extension": "703", "contact_methods": [
            {"kind": "phone", "value": "79161234567", "ring_time": 30.0}]})
        assert r.status_code == 201, r.text
        assert r.json()["contact_methods"][0]["ring_time"] == 30
        r = await c.api("PUT", "/api/v1/telephony/settings/voicemail", json={"max_length": 120.0})
        assert r.status_code == 200 and r.json()["max_length"] == 120
        r = await c.api("PUT", "/api/v1/telephony/settings/voicemail", json={"max_length": 120.5})
        assert r.status_code == 422 and "max_length" in r.json()["error"]["fields"]


async def test_a_comment_that_is_not_text_is_refused_not_a_server_error(st):
    async with st.client("101/admin") as c:
        for url, body in (("/api/v1/telephony/lists/entries", {"list": "black", "value": "79160000001"}),
                          ("/api/v1/telephony/client-rules", {"value": "79160000002", "target_kind": "external",
                                                               "target": "79160000003"})):
            r = await c.api("POST", url, json={**body, "comment": -3.5e210})
            assert r.status_code == 422 and "comment" in r.json()["error"]["fields"], (url, r.text)
            r = await c.api("POST", url, json={**body, "comment": "ok"})
            assert r.status_code == 201, (url, r.text)


async def test_a_null_in_an_operator_pbx_patch_changes_nothing(st):
    await create_operator_admin(st.store, "truth-root", "operator-pass-1", "root@truth.example", language="en")
    async with WebClient(st.url) as op:
        await op.login("truth-root", "operator-pass-1")
        before = (await op.get("/api/v1/operator/pbxes/202")).json()
        r = await op.api("PATCH", "/api/v1/operator/pbxes/202", json={"name": None, "edition": ""})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == before["name"] == "PBX 202" and r.json().get("edition") == before.get("edition")
        assert (await op.get("/api/v1/operator/pbxes/202")).json()["name"] == "PBX 202"
        # the same for an account: a null name or e-mail is no change
        r = await op.api("PATCH", "/api/v1/operator/accounts/100002", json={"name": None, "email": None})
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["email"]) == ("Other", "other@example.com")


async def test_a_patch_that_changes_a_list_entrys_value_takes_its_kind_from_it(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", "/api/v1/telephony/lists/entries", json={"list": "white", "value": "ivan@sip.example.com"})
        assert r.status_code == 201 and r.json()["kind"] == "sip", r.text
        r = await c.api("PATCH", f"/api/v1/telephony/lists/entries/{r.json()['id']}", json={"value": "79161112233"})
        assert r.status_code == 200 and (r.json()["kind"], r.json()["value"]) == ("phone", "79161112233"), r.text


async def test_a_trunk_numbers_comment_that_is_not_text_is_refused_not_a_server_error(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", "/api/v1/telephony/trunks", json={
            "name": "Office", "host": "10.9.8.7", "numbers": [{"number": "74950000001", "comment": [None, None]}]})
        assert r.status_code == 422 and "numbers[0].comment" in r.json()["error"]["fields"], r.text


async def test_an_unknown_api_url_is_not_found_for_every_method(st):
    async with st.client("101/admin") as c:
        for method in ("OPTIONS", "HEAD", "GET", "POST"):
            r = await c.request(method, "/api/v1/access/users/not-an-id")
            assert r.status_code == 404 and "Allow" not in r.headers, (method, r.status_code, r.headers)
        # a known resource names exactly its methods
        r = await c.request("OPTIONS", "/api/v1/telephony/trunks")
        assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"


async def test_a_role_with_a_long_name_can_be_copied(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", "/api/v1/roles", json={"name": "R" * 100, "base": "employee"})
        assert r.status_code == 201, r.text
        r = await c.api("POST", f"/api/v1/roles/{r.json()['id']}/copy")
        assert r.status_code == 201, r.text
        assert r.json()["name"] == ("Copy of " + "R" * 100)[:100]


async def _document(c) -> dict:
    return (await c.get("/api/v1/openapi.json")).json()


def _body_schema(doc: dict, method: str, path: str) -> dict:
    ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]


async def test_a_webhook_the_document_allows_is_saved_and_a_test_needs_its_receiver(st):
    async with st.client("101/admin") as c:
        doc = await _document(c)
        schema = _body_schema(doc, "post", "/api/v1/webhooks")
        kinds = [t["type"] for t in (await c.get("/api/v1/webhook-event-types")).json()["items"]]
        assert schema["properties"]["events"]["items"]["enum"] == kinds
        assert schema["x-pult-local-url"] == ["url"]  # the property run never posts to the internet
        r = await c.api("POST", "/api/v1/webhooks", json={"url": "https://hooks.example.com/pult?x=1",
                                                         "events": ["call.ended"], "secret": ""})
        assert r.status_code == 201 and r.json()["secret"], r.text
        r = await c.api("POST", "/api/v1/webhooks", json={"url": "http://10.1.2.3/", "events": ["call.ended"]})
        assert r.status_code == 422 and "url" in r.json()["error"]["fields"], r.text
        # a test before saving has no saved address to fall back on: the document says url is required
        assert _body_schema(doc, "post", "/api/v1/webhook-tests")["required"] == ["url"]
        r = await c.api("POST", "/api/v1/webhook-tests", json={"events": ["call.ended"]})
        assert r.status_code == 422 and "url" in r.json()["error"]["fields"], r.text


async def test_the_account_requisites_need_an_inn_with_its_check_digits(st):
    async with st.client("101/admin") as c:
        schema = _body_schema(await _document(c), "put", "/api/v1/account/requisites")
        assert schema["x-pult-inn"] == ["inn"] and schema["properties"]["bik"]["pattern"] == "^([0-9]{9})?$"
        r = await c.api("PUT", "/api/v1/account/requisites", json={"inn": "7707083894", "bik": "044525225"})
        assert r.status_code == 422 and "inn" in r.json()["error"]["fields"], r.text
        r = await c.api("PUT", "/api/v1/account/requisites", json={"inn": "7707083893", "bik": "044525225"})
        assert r.status_code == 200 and r.json()["inn"] == "7707083893", r.text


async def test_restricted_sip_access_lists_an_address_once(st):
    async with st.client("101/admin") as c:
        schema = _body_schema(await _document(c), "put", "/api/v1/telephony/sip/access")
        restricted = next(b for b in schema["oneOf"] if b["title"] == "restricted")
        assert restricted["properties"]["entries"]["minItems"] == 1
        assert schema["x-pult-unique"] == {"entries": ["value"]}
        url = "/api/v1/telephony/sip/access"
        r = await c.api("PUT", url, json={"mode": "restricted", "entries": []})
        assert r.status_code == 422 and "entries" in r.json()["error"]["fields"], r.text
        r = await c.api("PUT", url, json={"mode": "restricted", "entries": [{"value": "10.0.0.1"}, {"value": "10.0.0.1"}]})
        assert r.status_code == 422, r.text
        assert (await c.get(url)).json()["mode"] == "free"  # nothing changed
        r = await c.api("PUT", url, json={"mode": "restricted", "entries": [{"value": "10.0.0.*", "comment": "office"}]})
        assert r.status_code == 200 and r.json()["entries"] == [{"value": "10.0.0.*", "comment": "office"}], r.text
        assert (await c.api("PUT", url, json={"mode": "free"})).status_code == 200


async def test_a_notice_switched_on_needs_an_address_as_the_document_says(st):
    async with st.client("101/admin") as c:
        schema = _body_schema(await _document(c), "put", "/api/v1/finance/notifications")
        block = (await _document(c))["components"]["schemas"][schema["properties"]["block"]["$ref"].rsplit("/", 1)[-1]]
        on = next(b for b in block["oneOf"] if b["title"] == "on")
        assert sorted(req for alt in on["anyOf"] for req in alt["required"]) == ["emails", "phones"]
        url = "/api/v1/finance/notifications"
        r = await c.api("PUT", url, json={"block": {"enabled": True, "emails": ""}})
        assert r.status_code == 422 and "block.emails" in r.json()["error"]["fields"], r.text
        r = await c.api("PUT", url, json={"block": {"enabled": True, "phones": ["+79161234567"]},
                                          "low_balance": {"enabled": True, "emails": "a.b@example.com, c@example.org",
                                                          "threshold": "150,50"}})
        assert r.status_code == 200, r.text
        assert (r.json()["block"]["phones"], r.json()["low_balance"]["threshold"]) == ("+79161234567", "150,50")


async def test_ldap_settings_the_document_allows_are_saved_and_a_password_needs_a_bind_dn(st):
    async with st.client("101/admin") as c:
        schema = _body_schema(await _document(c), "put", "/api/v1/integrations/ldap")
        assert schema["x-pult-local-host"] == ["host"]  # a check connects there: the property run's own
        url = "/api/v1/integrations/ldap"
        body = {"host": "ldap.example.org", "base_dn": "ou=people,dc=example,dc=org", "filter": "(objectClass=person)",
                "mapping": {"uid": "entryUUID", "name": "cn", "email": ""}, "policy": {"create": False, "update": False,
                                                                                      "deactivate": True},
                "schedule": {"mode": "daily", "time": "03:30"}, "password": "secret"}
        r = await c.api("PUT", url, json=body)
        assert r.status_code == 422 and "password" in r.json()["error"]["fields"], r.text
        r = await c.api("PUT", url, json={**body, "bind_dn": "cn=sync,dc=example,dc=org"})
        assert r.status_code == 200, r.text
        assert r.json()["schedule"] == {"mode": "daily", "hours": None, "time": "03:30"}
        r = await c.api("PUT", url, json={**body, "bind_dn": "cn=sync", "policy": {"create": False, "update": False}})
        assert r.status_code == 422 and "policy" in r.json()["error"]["fields"], r.text


async def test_the_wizard_documents_what_its_rules_need_and_a_taken_login_is_a_conflict(st):
    async with st.client("101/admin") as c:
        schema = _body_schema(await _document(c), "post", f"{E}/wizard")
        phone, _later = schema["allOf"][0]["oneOf"]
        assert phone["required"] == ["reception", "phone"]
        assert schema["allOf"][1]["anyOf"][1]["required"] == ["email"]  # a cabinet login needs the e-mail
        r = await c.api("POST", f"{E}/wizard", json={"name": "Fwd", "reception": "phone", "send_email": False})
        assert r.status_code == 422 and "phone" in r.json()["error"]["fields"], r.text
        r = await c.api("POST", f"{E}/wizard", json={"name": "Fwd", "reception": "phone", "phone": "79161234500",
                                                     "send_email": False})
        assert r.status_code == 201 and r.json()["sip_account"] is None, r.text
        body = {"name": "Logged", "reception": "none", "email": "logged@example.com", "send_email": False,
                "login": "admin"}
        r = await c.api("POST", f"{E}/wizard", json=body)
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "login": "This login is already taken in the PBX."}, r.text
        r = await c.api("POST", f"{E}/wizard", json={**body, "login": "logged"})
        assert r.status_code == 201 and r.json()["user"]["login"] == "101/logged", r.text


async def test_each_operator_action_has_its_own_address_and_documented_body(st):
    await create_operator_admin(st.store, "acts-root", "operator-pass-1", "root@acts.example", language="en")
    async with WebClient(st.url) as op:
        await op.login("acts-root", "operator-pass-1")
        doc = (await op.get("/api/v1/openapi.json")).json()
        base = "/api/v1/operator/pbxes/{pbx_id}/"
        assert _body_schema(doc, "post", base + "block")["required"] == ["reason"]
        assert "requestBody" not in doc["paths"][base + "unblock"]["post"]
        # assigning a pool number needs a body: the document says so now (it listed none before)
        assert _body_schema(doc, "post", "/api/v1/operator/did-pool/assign")["required"] == ["number", "pbx_id"]
        r = await op.api("POST", "/api/v1/operator/pbxes/202/block", json={"reason": "unpaid"})
        assert r.status_code == 200, r.text
        r = await op.api("POST", "/api/v1/operator/pbxes/202/unblock")
        assert r.status_code == 200, r.text
        assert (await op.api("POST", "/api/v1/operator/pbxes/202/explode")).status_code == 404
