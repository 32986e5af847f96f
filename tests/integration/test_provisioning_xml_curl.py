"""FreeSWITCH provisioning from the tenants' real data: the recorded mod_xml_curl request shapes
(``xml_curl_requests.jsonl``) POSTed to a real Tornado server whose providers read the embedded
store, with tenant data created through the telephony services.

What is checked is what FreeSWITCH (and so a user) would notice: a phone's digest matches the
a1-hash served, a user is never served under another tenant's domain, a change made through a
service is in the very next answer, calls are handed to the socket with the variables naming
their PBX/number/trunk (or rejected when nobody owns them), and the configuration documents
hold the gateways, ACLs and seat limits with only parameters FreeSWITCH knows.
"""
from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

import pytest

from esl_control.model.conferences.services import ConferenceRoomService
from esl_control.model.crypto import SecretBox
from esl_control.model.employees.services import EmployeeService
from esl_control.model.numbers.services import DidPoolService, NumberService
from esl_control.model.sip.services import SipAccessService, SipAccountService
from esl_control.model.trunks.services import TrunkService
from fs_config import NOT_FOUND_XML
from fs_config.sofia_template import DEFAULT_PROFILES
from fs_config.tenant_providers import INLINE_ACL_MAX, tenant_providers
from pult.settings import load_settings
from storage.repos.base import Scope
from storage.repos.tenants import Pbxes
from tests.integration.harness import two_pbxes
from tests.integration.test_xml_curl_http import SECRET, Server, fs_body, recorded
from tests.unit.test_fs_config_configuration import FS_CONFERENCE_PARAMS, FS_GATEWAY_PARAMS
from tests.unit.test_fs_config_directory import FS_DIRECTORY_PARAMS
from tests.unit.test_fs_config_xml import fs_parse

ADMIN = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}
SOCKET = ("127.0.0.1", 18084)
DOMAIN_A, DOMAIN_B = "vpbx101.pult.local", "vpbx202.pult.local"

#: Profile <settings> names mod_sofia 1.10 reads (sofia.c ``config_sofia``) that the template uses
#: or may use; kept by hand so a new setting is checked against FreeSWITCH first. Not
#: rtp-timeout-sec / rtp-hold-timeout-sec: deprecated in 1.10 (media_timeout variables instead).
FS_PROFILE_SETTINGS = {
    "debug", "sip-trace", "sip-capture", "watchdog-enabled", "context", "dialplan", "dtmf-type",
    "rfc2833-pt", "dtmf-duration", "inbound-codec-prefs", "outbound-codec-prefs",
    "inbound-codec-negotiation", "rtp-timer-name", "sip-ip", "rtp-ip", "ext-sip-ip", "ext-rtp-ip",
    "hold-music", "local-network-acl", "apply-nat-acl", "apply-inbound-acl", "manage-presence",
    "nonce-ttl", "tls", "sip-port", "auth-calls",
    "auth-all-packets", "inbound-reg-force-matching-username", "challenge-realm", "log-auth-failures",
    "forward-unsolicited-mwi-notify",
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def trace_form(section: str, key_value: str | None = None) -> dict[str, str]:
    for rec in recorded()[1:]:
        form = rec["form"]
        if form["section"] == section and (key_value is None or form["key_value"] == key_value):
            return dict(form)
    raise AssertionError(f"no recorded {section} {key_value} lookup")


def directory_form(user: str, domain: str, **extra) -> dict[str, str]:
    """The recorded REGISTER digest-auth lookup, for ``user@domain``."""
    form = trace_form("directory")
    form.update(user=user, domain=domain, key_value=domain, sip_auth_username=user, sip_auth_realm=domain,
                sip_to_user=user, sip_to_host=domain, sip_from_user=user, sip_from_host=domain,
                sip_request_host=domain, sip_auth_uri=f"sip:{domain}")
    form.update(extra)
    return form


def dialplan_form(context: str, destination: str, **variables) -> dict[str, str]:
    """The recorded dialplan lookup, moved to ``context`` / ``destination``."""
    form = trace_form("dialplan")
    for prefix in ("Caller", "Hunt"):
        form[f"{prefix}-Context"] = context
        form[f"{prefix}-Destination-Number"] = destination
        form[f"{prefix}-Source"] = "mod_sofia"
    form.update(variables)
    return form


@pytest.fixture
async def tenants(store, settings):
    """PBX 101 (employee Иванов with SIP account ivanov, a DID, a passive and an active SIP number,
    a trunk, a room) and PBX 202 (SIP account petrov) of two accounts."""
    db = store.db
    await two_pbxes(db)
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10"})
    ivanov = await SipAccountService(db, 101, ADMIN).create(
        {"login": "ivanov", "password": "Secret123x", "employee_id": emp["id"]})
    petrov = await SipAccountService(db, 202, ADMIN).create({"login": "petrov", "password": "Secret456y"})
    await DidPoolService(db).add(["74957770000"])
    numbers = NumberService(db, 101, ADMIN)
    did = await numbers.assign_platform("74957770000")
    passive = await numbers.connect_passive({"number": "73432628900"})
    active = await numbers.connect_active({"number": "78122223344", "gateway": {
        "host": "sip.operator.ru", "login": "user1", "password": "op-secret"}})
    trunk = await TrunkService(db, 101, ADMIN).create({"name": "HQ", "host": "10.0.0.1", "port": 5070, "lines": 10,
                                                       "codecs": ["PCMA"], "numbers": [{"number": "73430000001"}]})
    room = await ConferenceRoomService(db, 101, ADMIN).create({"name": "Board", "seats": 5})
    xml_settings = settings.model_copy(update={"xml_curl_secret": SECRET, "xml_curl_allow": "127.0.0.0/8"})
    server = Server(xml_settings, tenant_providers(settings, db, socket_address=SOCKET,
                                                   box=SecretBox.from_settings(settings)))
    ids = dict(employee=emp["id"], ivanov=ivanov["id"], petrov=petrov["id"], did=did["id"], passive=passive["id"],
               active=active["id"], trunk=trunk["id"], room=room["id"])
    try:
        yield db, server, ids
    finally:
        await server.close()


async def lookup(server: Server, form: dict[str, str]) -> str:
    resp = await server.post(fs_body(form))
    assert resp.code == 200 and resp.headers["Content-Type"].startswith("text/xml")
    return resp.body.decode()


def user_of(text: str) -> tuple[ET.Element, ET.Element]:
    section = fs_parse(text, "directory")
    domain = section.find("domain")
    users = domain.findall("users/user")
    assert len(users) == 1
    return domain, users[0]


def params(el: ET.Element, path: str = "params/param") -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in el.findall(path)}


# --- directory -----------------------------------------------------------------------------------
async def test_register_digest_auth_gets_the_tenant_user_with_a1_hash_only(tenants):
    db, server, ids = tenants
    text = await lookup(server, directory_form("ivanov", DOMAIN_A))
    assert "Secret123x" not in text
    domain, user = user_of(text)
    assert domain.get("name") == DOMAIN_A and user.get("id") == "ivanov" and user.get("number-alias") == "10"
    assert params(domain, "variables/variable") == {"pult_pbx_id": "101"}
    up = params(user)
    assert set(up) <= FS_DIRECTORY_PARAMS and "password" not in up
    assert up["a1-hash"] == md5(f"ivanov:{DOMAIN_A}:Secret123x") and "auth-acl" not in up
    assert params(user, "variables/variable") == {
        "user_context": "vpbx101", "effective_caller_id_name": "Иванов", "effective_caller_id_number": "10",
        "pult_extension": "10", "pult_employee_id": ids["employee"]}
    # what FreeSWITCH then does with it: the phone's digest response checks out against the hash
    nonce, cnonce, uri = "9ad3ae0b", "6b8b4567", f"sip:{DOMAIN_A}"
    phone = md5(f"{md5(f'ivanov:{DOMAIN_A}:Secret123x')}:{nonce}:00000001:{cnonce}:auth:{md5(f'REGISTER:{uri}')}")
    assert md5(f"{up['a1-hash']}:{nonce}:00000001:{cnonce}:auth:{md5(f'REGISTER:{uri}')}") == phone
    # the (login, domain) lookup is indexed, so the embedded store narrows it to one account
    indexes = await db["sip_accounts"].index_information()
    assert [k for k, _ in indexes["sip_login_lookup"]["key"]] == ["login", "domain"]


async def test_a_user_is_never_served_under_another_tenants_domain(tenants):
    db, server, ids = tenants
    assert await lookup(server, directory_form("petrov", DOMAIN_A)) == NOT_FOUND_XML
    assert await lookup(server, directory_form("ivanov", DOMAIN_B)) == NOT_FOUND_XML
    assert await lookup(server, directory_form("ivanov", "127.0.0.1")) == NOT_FOUND_XML  # as recorded: not ours
    assert await lookup(server, directory_form("nobody", DOMAIN_A)) == NOT_FOUND_XML
    domain, user = user_of(await lookup(server, directory_form("petrov", DOMAIN_B.upper())))
    assert domain.get("name") == DOMAIN_B and params(domain, "variables/variable") == {"pult_pbx_id": "202"}
    assert params(user, "variables/variable")["user_context"] == "vpbx202"
    # passive SIP numbers' addresses look like users but are not accounts: nobody registers as them
    assert await lookup(server, directory_form("00073432628900", DOMAIN_A)) == NOT_FOUND_XML


async def test_other_directory_lookups(tenants):
    db, server, ids = tenants
    for action in ("user_call", "message-count", "reverse-auth-lookup"):
        form = directory_form("ivanov", DOMAIN_A, action=action)
        assert user_of(await lookup(server, form))[1].get("id") == "ivanov"
    by_alias = directory_form("10", DOMAIN_A, action="user_call", key="number-alias")
    assert user_of(await lookup(server, by_alias))[1].get("id") == "ivanov"
    assert await lookup(server, directory_form("10", DOMAIN_B, key="number-alias")) == NOT_FOUND_XML
    domain_only = directory_form("", DOMAIN_A, action="")
    section = fs_parse(await lookup(server, domain_only), "directory")
    assert section.find("domain").get("name") == DOMAIN_A and section.findall("domain/users/user") == []
    assert await lookup(server, directory_form("", DOMAIN_A, purpose="gateways")) == NOT_FOUND_XML


async def test_a_disabled_account_or_a_blocked_pbx_is_not_in_the_directory(tenants):
    """FreeSWITCH then refuses their REGISTER and INVITE (403), at the very next lookup."""
    db, server, ids = tenants
    accounts = SipAccountService(db, 101, ADMIN)
    base = {"login": "ivanov", "employee_id": ids["employee"]}
    off = await accounts.update(ids["ivanov"], {**base, "enabled": False})
    assert off["enabled"] is False
    assert await lookup(server, directory_form("ivanov", DOMAIN_A)) == NOT_FOUND_XML
    await accounts.update(ids["ivanov"], {**base, "enabled": True})
    assert user_of(await lookup(server, directory_form("ivanov", DOMAIN_A)))[1].get("id") == "ivanov"
    await Pbxes(db, Scope.platform()).update_one(
        {"pbx_id": 101}, {"$set": {"operator_block": {"until": None, "reason": "abuse"}}})
    assert await lookup(server, directory_form("ivanov", DOMAIN_A)) == NOT_FOUND_XML
    did = dialplan_form("public", "+74957770000", variable_sip_network_ip="198.51.100.7")
    actions = fs_parse(await lookup(server, did), "dialplan").findall("context/extension/condition/action")
    # its number still goes to the call engine, which says the blocked-PBX notice (PRODUCT.md §4.1)
    assert actions[-1].get("application") == "socket" and ("set", "pult_pbx_id=101") in \
        [(a.get("application"), a.get("data")) for a in actions]
    assert user_of(await lookup(server, directory_form("petrov", DOMAIN_B)))[1].get("id") == "petrov"  # not 202
    await Pbxes(db, Scope.platform()).update_one({"pbx_id": 101}, {"$set": {"operator_block": None}})
    assert user_of(await lookup(server, directory_form("ivanov", DOMAIN_A)))[1].get("id") == "ivanov"


async def test_directory_changes_are_in_the_very_next_lookup(tenants):
    db, server, ids = tenants
    accounts = SipAccountService(db, 101, ADMIN)
    await accounts.update(ids["ivanov"], {"login": "ivanov", "password": "Changed789z", "employee_id": ids["employee"]})
    _, user = user_of(await lookup(server, directory_form("ivanov", DOMAIN_A)))
    assert params(user)["a1-hash"] == md5(f"ivanov:{DOMAIN_A}:Changed789z")
    # SIP access restricted: the whitelist is inline in auth-acl (live without reloadacl)
    await SipAccessService(db, 101, ADMIN).update({"mode": "restricted", "entries": ["192.168.1.16-32", "10.*"]})
    _, user = user_of(await lookup(server, directory_form("ivanov", DOMAIN_A)))
    assert params(user)["auth-acl"] == "10.0.0.0/8,192.168.1.16/28,192.168.1.32/32"
    assert len(params(user)["auth-acl"].split(",")) <= INLINE_ACL_MAX
    await SipAccessService(db, 101, ADMIN).update({"mode": "free", "entries": []})
    _, user = user_of(await lookup(server, directory_form("ivanov", DOMAIN_A)))
    assert "auth-acl" not in params(user)
    new = await accounts.create({"login": "sidorov", "password": "Fresh1234a"})
    assert user_of(await lookup(server, directory_form("sidorov", DOMAIN_A)))[1].get("id") == "sidorov"
    await accounts.delete(new["id"])
    assert await lookup(server, directory_form("sidorov", DOMAIN_A)) == NOT_FOUND_XML


# --- dialplan ------------------------------------------------------------------------------------
def socket_vars(text: str, context: str) -> dict[str, str]:
    section = fs_parse(text, "dialplan")
    ctx = section.find("context")
    assert ctx.get("name") == context
    actions = ctx.findall("extension/condition/action")
    assert actions[-1].get("application") == "socket" and actions[-1].get("data") == "127.0.0.1:18084 async full"
    assert all(a.get("application") == "set" for a in actions[:-1])
    return dict(a.get("data").split("=", 1) for a in actions[:-1])


async def test_inbound_calls_are_identified_by_number_trunk_gateway_or_sip_address(tenants):
    db, server, ids = tenants
    did = socket_vars(await lookup(server, dialplan_form("public", "+74957770000",
                                                          variable_sip_network_ip="198.51.100.7")), "public")
    assert did == {"pult_context": "public", "pult_destination_number": "+74957770000", "pult_source": "number",
                   "pult_pbx_id": "101", "pult_number_id": ids["did"], "pult_number": "74957770000",
                   "pult_number_kind": "platform", "pult_node": "vm"}  # the node asking (as the static snippet)
    trunk = socket_vars(await lookup(server, dialplan_form("public", "73430000001", variable_sip_network_ip="10.0.0.1",
                                                            variable_sip_network_port="5070")), "public")
    assert trunk["pult_source"] == "trunk" and trunk["pult_trunk_id"] == ids["trunk"]
    assert trunk["pult_pbx_id"] == "101" and trunk["pult_number"] == "73430000001"
    gateway = socket_vars(await lookup(server, dialplan_form(
        "public", "78122223344", variable_sip_gateway_name=f"pult_num_{ids['active']}")), "public")
    assert gateway["pult_number_id"] == ids["active"] and gateway["pult_number_kind"] == "active_sip"
    passive = socket_vars(await lookup(server, dialplan_form(
        "public", "00073432628900", variable_sip_req_host=DOMAIN_A, variable_sip_network_ip="198.51.100.7")),
        "public")
    assert passive["pult_number_id"] == ids["passive"] and passive["pult_number_kind"] == "passive_sip"


async def test_unknown_public_calls_are_rejected_and_changes_apply_at_once(tenants):
    db, server, ids = tenants
    form = dialplan_form("public", "74951112233", variable_sip_network_ip="198.51.100.7")
    section = fs_parse(await lookup(server, form), "dialplan")
    actions = section.findall("context[@name='public']/extension/condition/action")
    assert [(a.get("application"), a.get("data")) for a in actions] == [("hangup", "UNALLOCATED_NUMBER")]
    # the same number connected through the service: the next lookup hands the call over
    await DidPoolService(db).add(["74951112233"])
    num = await NumberService(db, 202, ADMIN).assign_platform("74951112233")
    assert socket_vars(await lookup(server, form), "public")["pult_number_id"] == num["id"]
    await NumberService(db, 202, ADMIN).delete(num["id"])
    assert "UNALLOCATED_NUMBER" in await lookup(server, form)
    # a scanner naming a number that is only a trunk's, from another address, is not that trunk
    stranger = dialplan_form("public", "73430000001", variable_sip_network_ip="198.51.100.9")
    assert "UNALLOCATED_NUMBER" in await lookup(server, stranger)


async def test_tenant_phone_calls_carry_pbx_user_and_employee(tenants):
    db, server, ids = tenants
    form = dialplan_form("vpbx101", "10", variable_user_name="ivanov", variable_domain_name=DOMAIN_A)
    got = socket_vars(await lookup(server, form), "vpbx101")
    assert got == {"pult_context": "vpbx101", "pult_destination_number": "10", "pult_pbx_id": "101",
                   "pult_source": "sip_user", "pult_domain": DOMAIN_A, "pult_user": "ivanov",
                   "pult_sip_account_id": ids["ivanov"], "pult_employee_id": ids["employee"], "pult_node": "vm"}
    # a caller of PBX 202 in PBX 101's context gets no user identity of 101 (or of 202)
    forged = dialplan_form("vpbx101", "10", variable_user_name="petrov", variable_domain_name=DOMAIN_B)
    got = socket_vars(await lookup(server, forged), "vpbx101")
    assert got["pult_pbx_id"] == "101" and got["pult_source"] == "internal" and "pult_user" not in got
    # the recorded loopback lookup in "default" is handed over as before
    recorded_default = socket_vars(await lookup(server, trace_form("dialplan")), "default")
    assert recorded_default == {"pult_context": "default", "pult_destination_number": "no_such_ext",
                                "pult_node": "vm"}
    # a context Pult does not own falls back to FreeSWITCH's own dialplan
    assert await lookup(server, dialplan_form("features", "1")) == NOT_FOUND_XML


# --- configuration -------------------------------------------------------------------------------
async def test_recorded_configuration_lookups(tenants):
    db, server, ids = tenants
    for rec in recorded()[1:]:
        form = rec["form"]
        if form["section"] != "configuration":
            continue
        text = await lookup(server, form)
        if form["key_value"] == "acl.conf":
            conf = fs_parse(text, "configuration").find("configuration[@name='acl.conf']")
            lists = {lst.get("name"): lst for lst in conf.findall("network-lists/list")}
            assert set(lists) == {"pult_esl", "lan", "domains", "pult_trunks"}
            assert [n.get("cidr") for n in lists["pult_esl"].findall("node")] == ["127.0.0.1/32", "::1/128"]
            assert [(n.get("type"), n.get("cidr")) for n in lists["pult_trunks"].findall("node")] == [
                ("allow", "10.0.0.1/32")]
            assert lists["domains"].get("default") == "deny" and lists["domains"].findall("node") == []
        else:  # the modules' own files and FreeSWITCH's stock conference profile "default"
            assert text == NOT_FOUND_XML, form["key_value"]


async def test_acl_conf_follows_whitelists_and_trunks(tenants):
    db, server, ids = tenants
    await SipAccessService(db, 202, ADMIN).update({"mode": "restricted", "entries": ["203.0.113.*"]})
    await TrunkService(db, 202, ADMIN).create({"name": "Branch", "host": "10.0.0.2"})
    text = await lookup(server, trace_form("configuration", "acl.conf"))
    conf = fs_parse(text, "configuration").find("configuration")
    lists = {lst.get("name"): [n.get("cidr") for n in lst.findall("node")] for lst in conf.findall("network-lists/list")}
    assert lists["pult_trunks"] == ["10.0.0.1/32", "10.0.0.2/32"]
    assert lists["pult_sip_202"] == ["203.0.113.0/24"] and "pult_sip_101" not in lists


async def test_sofia_conf_binds_each_node_where_its_settings_say(tenants, settings):
    """The SIP addresses are settings of the node (FREESWITCH_ESL ``sip``), served to that node."""
    db, _, _ = tenants
    nodes = json.dumps([
        {"name": "fs-a", "host": "127.0.0.1", "sip": {"sip_ip": "10.0.0.5", "ext_sip_ip": "203.0.113.5",
                                                      "internal_port": 5070, "external_port": 5090}},
        {"name": "fs-b", "host": "127.0.0.2"}])
    node_settings = settings.model_copy(update={"esl_nodes": nodes, "xml_curl_secret": SECRET,
                                                "xml_curl_allow": "127.0.0.0/8"})
    server = Server(node_settings, tenant_providers(node_settings, db, socket_address=SOCKET,
                                                    box=SecretBox.from_settings(settings)))
    try:
        def form(node):
            return dict(trace_form("configuration", "acl.conf"), key_value="sofia.conf",
                        **{"FreeSWITCH-Switchname": node})

        conf = fs_parse(await lookup(server, form("fs-a")), "configuration").find("configuration")
        profiles = {p.get("name"): params(p, "settings/param") for p in conf.findall("profiles/profile")}
        assert {k: profiles["internal"][k] for k in ("sip-ip", "rtp-ip", "ext-sip-ip", "ext-rtp-ip", "sip-port")} == {
            "sip-ip": "10.0.0.5", "rtp-ip": "10.0.0.5", "ext-sip-ip": "203.0.113.5", "ext-rtp-ip": "203.0.113.5",
            "sip-port": "5070"}
        assert profiles["external"]["sip-port"] == "5090" and profiles["external"]["sip-ip"] == "10.0.0.5"
        conf = fs_parse(await lookup(server, form("fs-b")), "configuration").find("configuration")
        internal = params(conf.find("profiles/profile[@name='internal']"), "settings/param")
        assert (internal["sip-ip"], internal["ext-sip-ip"], internal["sip-port"]) == ("auto", "auto-nat", "5060")
    finally:
        await server.close()


async def test_the_operators_node_settings_are_served_in_sofia_conf_and_post_load_switch_conf(tenants, settings):
    """What the operator console stores for a node wins over FREESWITCH_ESL ``sip``; the RTP range
    goes out as post_load_switch.conf (the core reads it after mod_xml_curl is loaded). A profile
    rescan gets what the profile loaded (mod_sofia re-reads the addresses it announces on a rescan,
    but its socket stays bound): a change waits, whole, for the profile's restart."""
    from esl_control.model.node_sip import find_node, node_sip_view, save_node_sip

    db, _, _ = tenants
    nodes = json.dumps([
        {"name": "fs-a", "host": "127.0.0.1", "sip": {"sip_ip": "10.0.0.5", "internal_port": 5070}},
        {"name": "fs-b", "host": "127.0.0.2"}])
    node_settings = settings.model_copy(update={"esl_nodes": nodes, "xml_curl_secret": SECRET,
                                                "xml_curl_allow": "127.0.0.0/8"})
    server = Server(node_settings, tenant_providers(node_settings, db, socket_address=SOCKET,
                                                    box=SecretBox.from_settings(settings)))

    def form(node, conf, **extra):
        return dict(trace_form("configuration", "acl.conf"), key_value=conf, **{"FreeSWITCH-Switchname": node},
                    **extra)

    async def profiles(node, **extra):
        conf = fs_parse(await lookup(server, form(node, "sofia.conf", **extra)), "configuration").find("configuration")
        return {p.get("name"): params(p, "settings/param") for p in conf.findall("profiles/profile")}

    try:
        # nothing stored: the configuration's values, and no RTP range (switch.conf's stays)
        assert (await profiles("fs-a"))["internal"]["sip-ip"] == "10.0.0.5"
        assert await lookup(server, form("fs-a", "post_load_switch.conf")) == NOT_FOUND_XML
        await save_node_sip(db, find_node(node_settings, "fs-a"), {
            "sip_ip": "192.0.2.10", "ext_sip_ip": "198.51.100.7", "ext_rtp_ip": "auto-nat",
            "external_port": "5095", "rtp_start_port": "20000", "rtp_end_port": "20999"}, ADMIN)
        # a rescan (the gateway reconcile's) gets what the profiles loaded: their sockets stay bound there
        rescan = await profiles("fs-a", profile="external", reconfig="true")
        assert (rescan["external"]["sip-ip"], rescan["external"]["sip-port"]) == ("10.0.0.5", "5080")
        assert rescan["internal"]["ext-sip-ip"] == "auto-nat"
        view = await node_sip_view(db, find_node(node_settings, "fs-a"))
        assert view["pending"] == ["internal", "external", "core"]   # core: the RTP range, at the next start
        # a restart of one profile loads the new settings for that profile only
        restarted = await profiles("fs-a", profile="internal")
        assert restarted["internal"]["ext-sip-ip"] == "198.51.100.7"
        rescan = await profiles("fs-a", profile="external", reconfig="true")
        assert rescan["internal"]["ext-sip-ip"] == "198.51.100.7" and rescan["external"]["sip-port"] == "5080"
        assert (await node_sip_view(db, find_node(node_settings, "fs-a")))["pending"] == ["external", "core"]
        got = await profiles("fs-a")                  # the switch's start: every profile
        assert {k: got["internal"][k] for k in ("sip-ip", "rtp-ip", "ext-sip-ip", "ext-rtp-ip", "sip-port")} == {
            "sip-ip": "192.0.2.10", "rtp-ip": "192.0.2.10", "ext-sip-ip": "198.51.100.7", "ext-rtp-ip": "auto-nat",
            "sip-port": "5070"}                       # the port not typed in the console: the configuration's
        assert (got["external"]["sip-ip"], got["external"]["sip-port"]) == ("192.0.2.10", "5095")
        core = fs_parse(await lookup(server, form("fs-a", "post_load_switch.conf")), "configuration")
        conf = core.find("configuration")
        assert conf.get("name") == "post_load_switch.conf"
        assert params(conf, "settings/param") == {"rtp-start-port": "20000", "rtp-end-port": "20999"}
        view = await node_sip_view(db, find_node(node_settings, "fs-a"))
        assert view["pending"] == [] and view["loaded"]["core"]["rtp-start-port"] == 20000
        # the other node keeps its own (here: the defaults), and has no range
        other = (await profiles("fs-b"))["internal"]
        assert (other["sip-ip"], other["sip-port"]) == ("auto", "5060")
        assert await lookup(server, form("fs-b", "post_load_switch.conf")) == NOT_FOUND_XML
        # empty values give the configuration back
        await save_node_sip(db, find_node(node_settings, "fs-a"), {"sip_ip": "", "rtp_start_port": ""}
                            | {"rtp_end_port": None}, ADMIN)
        assert (await profiles("fs-a"))["internal"]["sip-ip"] == "10.0.0.5"
        assert await lookup(server, form("fs-a", "post_load_switch.conf")) == NOT_FOUND_XML
    finally:
        await server.close()


def test_a_registering_gateway_keeps_the_registrars_port_in_realm_and_from():
    from fs_config.tenant_providers import sofia_gateway

    base = {"name": "pult_num_n1", "kind": "active_sip", "pbx_id": 101, "number": "78122223344",
            "username": "user1", "password": "op-secret", "host": "sip.operator.ru"}
    other_port = sofia_gateway({**base, "port": 5070})
    assert (other_port.proxy, other_port.realm, other_port.from_domain) == (
        "sip.operator.ru:5070", "sip.operator.ru:5070", "sip.operator.ru:5070")
    default_port = sofia_gateway({**base, "port": 5060})
    assert (default_port.realm, default_port.from_domain) == ("sip.operator.ru", "sip.operator.ru")
    by_address = sofia_gateway({**base, "port": 5070, "sip_address": "sip:7812@reg.operator.ru:5080"})
    assert (by_address.realm, by_address.from_user) == ("reg.operator.ru:5080", "7812")


@pytest.mark.parametrize("sip, message", [
    ({"sip_ip": "10.0.0.300"}, "sip_ip: '10.0.0.300' is not an IP address"),
    ({"ext_sip_ip": "my-nat"}, "ext_sip_ip: 'my-nat' is not an IP address (or one of auto, auto-nat)"),
    ({"internal_port": 70000}, "less than or equal to 65535"),
    ({"internal_port": 5070, "external_port": 5070}, "the two SIP profiles need a port each"),
    ({"sip_port": 5070}, "Extra inputs are not permitted"),
])
def test_wrong_node_sip_addresses_stop_pult_with_the_setting_named(sip, message, monkeypatch):
    from pult.settings import SettingsError
    monkeypatch.delenv("FREESWITCH_ESL", raising=False)
    with pytest.raises(SettingsError) as err:
        load_settings(esl_nodes=json.dumps([{"name": "fs1", "host": "127.0.0.1", "sip": sip}]))
    assert "FREESWITCH_ESL" in str(err.value) and message in str(err.value)


async def test_sofia_conf_has_the_profiles_and_every_tenant_gateway(tenants):
    db, server, ids = tenants
    form = dict(trace_form("configuration", "acl.conf"), key_value="sofia.conf")
    conf = fs_parse(await lookup(server, form), "configuration").find("configuration[@name='sofia.conf']")
    profiles = {p.get("name"): p for p in conf.findall("profiles/profile")}
    assert set(profiles) == {p.name for p in DEFAULT_PROFILES} == {"internal", "external"}
    for profile in profiles.values():
        assert set(params(profile, "settings/param")) <= FS_PROFILE_SETTINGS
    assert params(profiles["internal"], "settings/param")["auth-calls"] == "true"
    assert profiles["internal"].findall("gateways/gateway") == []
    gws = {g.get("name"): g for g in profiles["external"].findall("gateways/gateway")}
    assert set(gws) == {f"pult_num_{ids['active']}", f"pult_trunk_{ids['trunk']}"}
    number = gws[f"pult_num_{ids['active']}"]
    assert set(params(number, "param")) <= FS_GATEWAY_PARAMS
    assert params(number, "param") == {
        "register": "true", "proxy": "sip.operator.ru:5060", "realm": "sip.operator.ru", "username": "user1",
        "password": "op-secret", "from-user": "user1", "from-domain": "sip.operator.ru", "expire-seconds": "600",
        "retry-seconds": "30", "caller-id-in-from": "false", "context": "public", "extension": "78122223344"}
    assert params(number, "variables/variable") == {"pult_pbx_id": "101", "pult_number_id": ids["active"],
                                                     "pult_number": "78122223344"}
    trunk = gws[f"pult_trunk_{ids['trunk']}"]
    assert params(trunk, "param") == {"register": "false", "proxy": "10.0.0.1:5070", "ping": "30",
                                      "caller-id-in-from": "true", "context": "public"}
    assert params(trunk, "variables/variable") == {"absolute_codec_string": "PCMA", "pult_pbx_id": "101",
                                                    "pult_trunk_id": ids["trunk"]}
    # a new trunk (another tenant) is in the next answer; a deleted number is gone from it
    t2 = await TrunkService(db, 202, ADMIN).create({"name": "Branch", "host": "10.0.0.2", "options_ping": False})
    await NumberService(db, 101, ADMIN).delete(ids["active"])
    conf = fs_parse(await lookup(server, form), "configuration").find("configuration")
    names = {g.get("name"): g for g in conf.findall("profiles/profile[@name='external']/gateways/gateway")}
    assert set(names) == {f"pult_trunk_{ids['trunk']}", f"pult_trunk_{t2['id']}"}
    assert "ping" not in params(names[f"pult_trunk_{t2['id']}"], "param")
    # a trunk switched off loses its gateway at the next lookup (no call goes into it)
    await TrunkService(db, 202, ADMIN).update(t2["id"], {"name": "Branch", "host": "10.0.0.2", "active": False})
    conf = fs_parse(await lookup(server, form), "configuration").find("configuration")
    names = {g.get("name") for g in conf.findall("profiles/profile[@name='external']/gateways/gateway")}
    assert names == {f"pult_trunk_{ids['trunk']}"}


async def test_conference_profiles_carry_the_rooms_seats(tenants):
    db, server, ids = tenants
    command = trace_form("configuration", "conference.conf")  # COMMAND: conference 3000@default
    assert await lookup(server, command) == NOT_FOUND_XML
    ours = dict(command, conference_name="101-1000", profile_name=f"pult_room_{ids['room']}")
    conf = fs_parse(await lookup(server, ours), "configuration").find("configuration[@name='conference.conf']")
    profile = conf.find(f"profiles/profile[@name='pult_room_{ids['room']}']")
    assert set(params(profile, "param")) <= FS_CONFERENCE_PARAMS
    assert params(profile, "param")["max-members"] == "5" and "pin" not in params(profile, "param")
    assert conf.find("caller-controls/group[@name='default']") is not None
    controls = next(r["form"] for r in recorded()[1:] if r["form"].get("Action") == "request-controls")
    controls = dict(controls, **{"Conf-Profile": f"pult_room_{ids['room']}", "Conf-Name": "101-1000"})
    conf = fs_parse(await lookup(server, controls), "configuration").find("configuration")
    assert [c.get("action") for c in conf.findall("caller-controls/group[@name='default']/control")][:2] == [
        "mute", "deaf mute"]
    await ConferenceRoomService(db, 101, ADMIN).update(ids["room"], {"name": "Board", "seats": 12})
    conf = fs_parse(await lookup(server, ours), "configuration").find("configuration")
    assert params(conf.find("profiles/profile"), "param")["max-members"] == "12"
    await ConferenceRoomService(db, 101, ADMIN).delete(ids["room"])
    assert await lookup(server, ours) == NOT_FOUND_XML


async def test_a_room_with_a_pin_names_the_pin_prompts_in_the_pbx_language(store, settings, tmp_path):
    """mod_conference asks for a room's PIN with the profile's pin-sound (without one it plays
    ``conference/conf-pin.wav`` from the node's sounds and, with no sound package there, hangs the
    caller up: tests/realfs/test_conference_pin.py): Pult names its prompt set's phrases, in the
    PBX's language, and how many tries a caller has. The PIN itself is not in the profile."""
    db = store.db
    await two_pbxes(db)
    sounds = tmp_path / "sounds"
    for lang, voice in (("ru", "ru/RU/pult"), ("en", "en/us/pult")):
        for name in ("conf-pin.wav", "conf-bad-pin.wav"):
            f = sounds / voice / "conference" / "8000" / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"RIFF")
    xml_settings = settings.model_copy(update={"xml_curl_secret": SECRET, "xml_curl_allow": "127.0.0.0/8",
                                               "sounds_dir": sounds})
    server = Server(xml_settings, tenant_providers(xml_settings, db, socket_address=SOCKET,
                                                   box=SecretBox.from_settings(settings)))
    try:
        rooms = ConferenceRoomService(db, 101, ADMIN)
        locked = await rooms.create({"name": "Locked", "seats": 3, "pin": "4321"})
        open_ = await rooms.create({"name": "Open", "seats": 3})
        command = trace_form("configuration", "conference.conf")

        def profile_of(room):
            return dict(command, conference_name=room["id"], profile_name=f"pult_room_{room['id']}")

        conf = fs_parse(await lookup(server, profile_of(locked)), "configuration").find("configuration")
        got = params(conf.find("profiles/profile"), "param")
        assert set(got) <= FS_CONFERENCE_PARAMS
        assert got["pin-sound"] == str(sounds / "ru/RU/pult/conference/conf-pin.wav")  # PBX 101 speaks Russian
        assert got["bad-pin-sound"] == str(sounds / "ru/RU/pult/conference/conf-bad-pin.wav")
        assert got["pin-retries"] == "3" and "pin" not in got
        conf = fs_parse(await lookup(server, profile_of(open_)), "configuration").find("configuration")
        assert "pin-sound" not in params(conf.find("profiles/profile"), "param")
    finally:
        await server.close()
