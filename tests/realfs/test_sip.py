"""SIP phones (SIPp) registering with the real switch against Pult's directory (digest a1-hash):
wrong password, another tenant's domain, a disabled account, a password changed live, a blocked
PBX and a deleted account — each refused at once, and live registrations flushed; the PBX's SIP
whitelist (the directory's ``auth-acl``, inline or an ``acl.conf`` list after ``reloadacl``)."""
from __future__ import annotations

import uuid as uuidlib

import pytest

from tests.realfs.harness import sip_register, wait_until

PASSWORD = "Phone1Secret9"


@pytest.fixture
def phone(stack, sipp, tmp_path):
    """A SIP account of the demo PBX; deleted afterwards (if the test did not)."""
    tenant = stack.tenant()
    login = "ph" + uuidlib.uuid4().hex[:8]
    acc = tenant.ok("POST", "/api/v1/telephony/sip/accounts", {"login": login, "password": PASSWORD})
    yield tenant, acc
    tenant.request("DELETE", f"/api/v1/telephony/sip/accounts/{acc['id']}")


def register(stack, tmp_path, login, domain, password, expires=300):
    return sip_register(tmp_path, stack.fs.ports.sip_internal, login, domain, password, expires)


def registered(stack, login: str) -> bool:
    return f"{login}@" in stack.fs.registrations()


def test_register_right_and_wrong_password_and_another_tenants_domain(stack, phone, tmp_path):
    tenant, acc = phone
    ok = register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD)
    assert ok.code == 200, ok.output[-2000:]
    assert registered(stack, acc["login"])
    assert register(stack, tmp_path, acc["login"], acc["domain"], "Wrong1Password").code == 403
    # the same login and password presented to another PBX's domain
    operator = stack.operator()
    other = operator.ok("POST", "/api/v1/operator/pbxes", {"account_id": stack.creds["account_id"],
                                                           "name": "Other PBX", "edition": "basic"})
    other_domain = acc["domain"].replace(f"vpbx{stack.pbx_id}.", f"vpbx{other['pbx_id']}.")
    assert other_domain != acc["domain"]
    assert register(stack, tmp_path, acc["login"], other_domain, PASSWORD).code == 403


def test_a_password_changed_in_the_cabinet_is_live_on_the_next_register(stack, phone, tmp_path):
    tenant, acc = phone
    tenant.ok("PUT", f"/api/v1/telephony/sip/accounts/{acc['id']}/password", {"password": "New2Password7"})
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 403
    assert register(stack, tmp_path, acc["login"], acc["domain"], "New2Password7").code == 200


def test_a_disabled_account_is_refused_and_its_registration_flushed_at_once(stack, phone, tmp_path):
    tenant, acc = phone
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 200
    assert registered(stack, acc["login"])
    off = tenant.ok("PATCH", f"/api/v1/telephony/sip/accounts/{acc['id']}", {"enabled": False})
    assert off["enabled"] is False
    wait_until(lambda: not registered(stack, acc["login"]), 3, 0.1, "the live registration flushed")
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 403
    # a password change does not switch it back on
    tenant.ok("PUT", f"/api/v1/telephony/sip/accounts/{acc['id']}/password", {"password": PASSWORD})
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 403
    on = tenant.ok("PATCH", f"/api/v1/telephony/sip/accounts/{acc['id']}", {"enabled": True})
    assert on["enabled"] is True
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 200


def test_a_blocked_pbx_stops_registering_at_once_and_its_registrations_are_flushed(stack, phone, tmp_path):
    tenant, acc = phone
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 200
    operator = stack.operator()
    operator.ok("POST", f"/api/v1/operator/pbxes/{stack.pbx_id}/block", {"reason": "traffic abuse"})
    try:
        wait_until(lambda: not registered(stack, acc["login"]), 3, 0.1, "the live registration flushed")
        assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 403
        # and its DID only hears the blocked-PBX notice (tests/realfs/test_engine_calls.py)
    finally:
        operator.ok("POST", f"/api/v1/operator/pbxes/{stack.pbx_id}/unblock")
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 200


def test_a_deleted_account_loses_its_registration_at_once(stack, phone, tmp_path):
    tenant, acc = phone
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 200
    r = tenant.request("DELETE", f"/api/v1/telephony/sip/accounts/{acc['id']}")
    assert r.status_code in (200, 204), r.text
    wait_until(lambda: not registered(stack, acc["login"]), 3, 0.1, "the live registration flushed")
    assert register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code == 403


def test_the_pbxs_sip_whitelist_is_enforced_on_register_inline_and_as_a_reloaded_acl_list(stack, phone, tmp_path):
    """D §4.6.1.3 on the real switch. Up to 32 networks go inline in the directory's ``auth-acl``
    (live on the next REGISTER): outside them 403, inside 200. A longer whitelist names the
    ``acl.conf`` list ``pult_sip_<pbx>`` served by Pult, which the switch knows only after the
    reconcile's ``reloadacl`` (every 2 s here): refused until then, accepted once the list with
    this address is loaded, refused again once it is reloaded without it. Free access: 200."""
    tenant, acc = phone
    access = "/api/v1/telephony/sip/access"

    def only(*values: str) -> dict:
        return {"mode": "restricted", "entries": [{"value": v} for v in values]}

    def code() -> int | None:
        return register(stack, tmp_path, acc["login"], acc["domain"], PASSWORD).code

    others = [f"10.{i}.0.1" for i in range(1, 34)]  # 33 separate hosts: too many to go inline
    try:
        tenant.ok("PUT", access, only("192.0.2.*"))
        assert code() == 403
        tenant.ok("PUT", access, only("127.0.0.*"))
        assert code() == 200
        tenant.ok("PUT", access, only(*others, "127.0.0.1"))
        wait_until(lambda: code() == 200, 20, 0.5, "reloadacl loading pult_sip_<pbx> with 127.0.0.1")
        tenant.ok("PUT", access, only(*others, "127.0.0.2"))
        wait_until(lambda: code() == 403, 20, 0.5, "reloadacl loading pult_sip_<pbx> without 127.0.0.1")
    finally:
        tenant.ok("PUT", access, {"mode": "free", "entries": []})
    assert code() == 200
