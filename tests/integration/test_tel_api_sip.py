"""SIP domains, accounts, passwords and the IP whitelist over the REST API: round trips, the
password shown only with the right and never when its owner forbade it, confirmations and
references on delete, RU/EN errors."""
from __future__ import annotations

import pytest

from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.users import Users, link_employee
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)

pytestmark = pytest.mark.asyncio(loop_scope="module")
D = "/api/v1/telephony/sip/domains"
A = "/api/v1/telephony/sip/accounts"


async def test_domains_accounts_round_trip_and_delete_confirmation(st):
    async with st.client("101/admin") as c:
        domains = (await c.get(D)).json()
        assert [d["name"] for d in domains["items"]] == ["vpbx101.pult.test"] and domains["items"][0]["default"]
        r = await c.api("POST", D, json={"name": "office"})
        assert r.status_code == 201 and r.json()["name"] == "office.pult.test"
        dom = r.json()
        r = await c.api("POST", A, json={"login": "ivanov", "password": "Secret123x", "domain_id": dom["id"]})
        assert r.status_code == 201, r.text
        acc = r.json()
        assert acc["address"] == "ivanov@office.pult.test" and "password" not in acc and "a1_hash" not in acc
        r = await c.api("PATCH", f"{A}/{acc['id']}", json={"login": "ivanov2"})
        assert r.status_code == 200 and r.json()["address"] == "ivanov2@office.pult.test"
        assert (await c.get(A, params={"domain_id": dom["id"]})).json()["total"] == 1
        # the domain has an account: the delete asks for confirmation, then takes both
        r = await c.api("DELETE", f"{D}/{dom['id']}")
        assert r.status_code == 409 and r.json()["error"]["code"] == "confirmation_required"
        assert r.json()["error"]["message"] == "Deleting 'office.pult.test' also deletes its 1 SIP account(s); confirm to continue"
        r = await c.api("DELETE", f"{D}/{dom['id']}", params={"confirm": "true"})
        assert r.status_code == 200
        assert (await c.get(f"{A}/{acc['id']}")).status_code == 404
        own = domains["items"][0]["id"]
        r = await c.api("DELETE", f"{D}/{own}")
        assert r.status_code == 409 and r.json()["error"]["message"] == \
            "The default SIP domain vpbx101.pult.test cannot be deleted"


async def test_password_rules_reveal_set_generate_and_the_audit_never_shows_it(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru, \
            st.client("101/viewer") as viewer:
        r = await c.api("POST", A, json={"login": "petrov", "password": "weak"})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {
            "password": "SIP password must have at least 8 characters with digits, lower-case and upper-case Latin letters"}
        r = await ru.api("POST", A, json={"login": "1petrov", "password": "Secret123x"})
        assert r.json()["error"]["fields"] == {"login": "SIP-логин начинается с латинской буквы, длина от 4 до 64 символов "
                                                        "(латинские буквы, цифры, «.», «_», «-»), либо состоит из цифр "
                                                        "и начинается с 000"}
        acc = (await c.api("POST", A, json={"login": "petrov", "password": "Secret123x"})).json()
        assert (await c.get(f"{A}/{acc['id']}/password")).json() == {"id": acc["id"], "password": "Secret123x"}
        # a viewer of the SIP section sees the account but not its password, and changes nothing
        assert (await viewer.get(f"{A}/{acc['id']}")).status_code == 200
        r = await viewer.get(f"{A}/{acc['id']}/password")
        assert r.status_code == 403 and r.json()["error"]["message"] == "Your role only allows viewing the section «SIP settings»."
        assert (await viewer.api("POST", f"{A}/{acc['id']}/password/generate")).status_code == 403
        r = await c.api("PUT", f"{A}/{acc['id']}/password", json={"password": "Another456Y"})
        assert r.status_code == 200
        assert (await c.get(f"{A}/{acc['id']}/password")).json()["password"] == "Another456Y"
        r = await c.api("PUT", f"{A}/{acc['id']}/password", json={"password": "пароль123A"})
        assert r.status_code == 422 and "password" in r.json()["error"]["fields"]
        gen = (await c.api("POST", f"{A}/{acc['id']}/password/generate")).json()["password"]
        assert len(gen) == 16 and gen != "Another456Y"
        assert (await c.get(f"{A}/{acc['id']}/password")).json()["password"] == gen
    log = await AuditLog(st.db, Scope.pbx(101)).find({"object.id": acc["id"]})
    assert log and not any(secret in str(e) for e in log for secret in ("Secret123x", "Another456Y", gen))


async def test_personal_protection_hides_the_owners_sip_password(st):
    async with st.client("101/admin") as c:
        emp = (await c.api("POST", "/api/v1/telephony/employees", json={"name": "Head", "extension": "401"})).json()
        acc = (await c.api("POST", A, json={"login": "head", "password": "Secret123x", "employee_id": emp["id"]})).json()
        # the account became the employee's first contact method
        methods = (await c.get(f"/api/v1/telephony/employees/{emp['id']}")).json()["contact_methods"]
        assert methods[0]["account_id"] == acc["id"] and methods[0]["active"] is True
        owner = st.info["users"]["101/adminru"]
        await link_employee(st.store, owner["_id"], emp["id"])
        await Users(st.db, Scope.pbx(101)).update_one({"_id": owner["_id"]},
                                                       {"$set": {"protection": {"passwords": True}}})
        assert (await c.get(f"{A}/{acc['id']}")).json()["password_protected"] is True
        r = await c.get(f"{A}/{acc['id']}/password")
        assert r.status_code == 403 and r.json()["error"]["code"] == "protected"
        assert (await c.api("POST", f"{A}/{acc['id']}/password/generate")).status_code == 403
        assert (await c.api("PATCH", f"{A}/{acc['id']}", json={"password": "Other123xY"})).status_code == 403
    async with st.client("101/adminru", lang="ru") as own:  # the owner still sees their own
        assert (await own.get(f"{A}/{acc['id']}/password")).json()["password"] == "Secret123x"
        assert (await own.get(f"{A}/{acc['id']}")).json()["password_protected"] is False
    # the account is the employee's contact method: not deleted while so
    async with st.client("101/admin") as c:
        r = await c.api("DELETE", f"{A}/{acc['id']}")
        assert r.status_code == 409 and r.json()["error"]["references"][0]["name"] == "Head"


async def test_ip_whitelist(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        assert (await c.get("/api/v1/telephony/sip/access")).json() == {"mode": "free", "entries": []}
        r = await c.api("PUT", "/api/v1/telephony/sip/access", json={"mode": "restricted", "entries": []})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {"entries": "Restricted access needs at least one IP address"}
        r = await ru.api("PUT", "/api/v1/telephony/sip/access", json={"mode": "restricted", "entries": [
            {"value": "10.0.0.1"}, {"value": "300.1.1.1"}]})
        assert r.json()["error"]["fields"] == {"entries[1].value": "IP-адрес «300.1.1.1» указан неверно: ожидается, "
                                                                   "например, 192.168.1.20, 192.168.1.16-32 или 192.168.*"}
        body = {"mode": "restricted", "entries": [{"value": "10.0.0.1", "comment": "office"}, {"value": "192.168.1.16-32"}]}
        r = await c.api("PUT", "/api/v1/telephony/sip/access", json=body)
        assert r.status_code == 200
        assert (await c.get("/api/v1/telephony/sip/access")).json() == {
            "mode": "restricted", "entries": [{"value": "10.0.0.1", "comment": "office"},
                                              {"value": "192.168.1.16-32", "comment": ""}]}


@pytest.mark.parametrize("entry, accepted", [
    ("192.168.1.16-32", True), ("10.1-5", True), ("192.168.*.*", True), ("*", True), ("10.0.0.0/8", True),
    ("192.168.01.1", False), ("10.0.0.1/8", False), ("192.168.1", False), ("192.168.*.5", False),
    ("1.2.3.4.5", False), ("١٢٣.1.1.1", False), ("::1", False),
])
async def test_sip_accounts_and_api_keys_accept_the_same_whitelist_entries(st, entry, accepted):
    """One syntax (PRODUCT.md §6): an entry the SIP whitelist takes is one an API key takes, and
    an entry one refuses the other refuses too (and nothing is stored)."""
    async with st.client("101/admin") as c:
        sip = await c.api("PUT", "/api/v1/telephony/sip/access",
                          json={"mode": "restricted", "entries": [{"value": entry}]})
        key = await c.api("POST", "/api/v1/api-keys", json={"name": f"k {entry}", "role": "employee",
                                                            "whitelist": [entry]})
        assert (sip.status_code, key.status_code) == ((200, 201) if accepted else (422, 422))
        if accepted:
            assert (await c.get("/api/v1/telephony/sip/access")).json()["entries"][0]["value"] \
                == key.json()["whitelist"][0]
            await c.api("DELETE", f"/api/v1/api-keys/{key.json()['id']}")
        else:
            assert list(sip.json()["error"]["fields"]) == ["entries[0].value"]
            assert list(key.json()["error"]["fields"]) == ["whitelist.0"]


async def test_a_body_that_is_not_a_json_object_gets_the_same_answer_everywhere(st):
    """One JSON body parser: the telephony API, the access API and the session API answer a broken
    or non-object body alike (400 invalid_json, in the user's language) and store nothing."""
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        before = (await c.get("/api/v1/telephony/sip/access")).json()
        keys = (await c.get("/api/v1/api-keys")).json()["items"]
        for url, method in (("/api/v1/telephony/sip/access", "PUT"), ("/api/v1/api-keys", "POST")):
            for content in (b"{not json", b"[1, 2]", "\u00ff".encode("latin-1")):
                for client in (c, ru):
                    r = await client.api(method, url, content=content, headers={"Content-Type": "application/json"})
                    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", (url, content)
                    assert r.json()["error"]["message"] != "invalid_json"
        en = await c.api("POST", "/api/v1/api-keys", content=b"[1]", headers={"Content-Type": "application/json"})
        rus = await ru.api("POST", "/api/v1/api-keys", content=b"[1]", headers={"Content-Type": "application/json"})
        assert en.json()["error"]["message"] == "The request body must be a JSON object."
        assert rus.json()["error"]["message"] != en.json()["error"]["message"]
        assert (await c.get("/api/v1/telephony/sip/access")).json() == before
        assert (await c.get("/api/v1/api-keys")).json()["items"] == keys
