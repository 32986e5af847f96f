"""Configuration answers: sofia.conf gateways, acl.conf lists, conference.conf profiles."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from esl_control.routing.acl import WhitelistEntryError
from fs_config.configuration import (DEFAULT_CONTROLS, AclList, AclNode, ConferenceProfile,
                                     ControlGroup, SofiaGateway, SofiaProfile, allow_list,
                                     build_acl_conf, build_conference_conf, build_sofia_conf,
                                     whitelist_acl)
from fs_config.providers import by_conf_name
from fs_config.request import XmlCurlRequest
from fs_config.xml import XmlBuildError
from tests.unit.test_fs_config_xml import fs_parse

TRACE = Path("/work/shared/freeswitch/traces/xml_curl_requests.jsonl")

#: Gateway <param> names mod_sofia 1.10 reads (sofia.c, gateway parsing). Kept here, not imported,
#: so a param the builder starts emitting must be checked against FreeSWITCH and added by hand.
FS_GATEWAY_PARAMS = {
    "register", "scheme", "realm", "username", "auth-username", "password", "caller-id-in-from",
    "extension", "extension-in-contact", "proxy", "context", "expire-seconds", "retry-seconds",
    "from-user", "from-domain", "register-proxy", "outbound-proxy", "register-transport", "ping",
    "ping-max", "ping-min", "contact-params", "distinct-to", "destination-prefix",
    "contact-host", "timeout-seconds", "max-retry-seconds", "gw-auth-acl",
}
#: Conference profile <param> names mod_conference 1.10 reads (conference_new).
FS_CONFERENCE_PARAMS = {
    "rate", "interval", "domain", "timer-name", "enter-sound", "exit-sound", "alone-sound",
    "moh-sound", "muted-sound", "unmuted-sound", "locked-sound", "kicked-sound", "pin",
    "moderator-pin", "pin-retries", "pin-sound", "bad-pin-sound", "energy-level", "caller-id-name",
    "caller-id-number", "caller-controls", "moderator-controls", "comfort-noise", "sound-prefix",
    "max-members", "max-members-sound", "announce-count", "auto-record", "conference-flags",
    "member-flags", "terminate-on-silence", "endconf-grace-time",
}


def gateways_sample():
    number = SofiaGateway(name="num_74951234567", proxy="sip.operator.example:5060", register=True,
                          username="74951234567", password='p&ss"<word>', realm="sip.operator.example",
                          from_domain="sip.operator.example", expire_seconds=600, retry_seconds=30,
                          caller_id_in_from=True, codecs=("PCMA", "PCMU"),
                          variables={"pult_number_id": "n-1", "pult_pbx_id": "7"})
    trunk = SofiaGateway(name="trunk_7_3", proxy="203.0.113.10:5070", register=False, ping=30,
                         codecs=("G729", "PCMA"), context="public",
                         variables={"pult_trunk_id": "t-3", "pult_pbx_id": "7"})
    return number, trunk


def test_sofia_conf_structure_and_gateway_params():
    number, trunk = gateways_sample()
    profiles = [SofiaProfile("external", {"sip-port": 5080, "context": "public", "auth-calls": False},
                             [number, trunk]),
                SofiaProfile("internal", {"sip-port": 5060, "context": "public"})]
    section = fs_parse(build_sofia_conf(profiles, {"log-level": 0}), "configuration")
    conf = section.find("configuration")
    assert conf.get("name") == "sofia.conf"
    assert conf.find("global_settings/param[@name='log-level']").get("value") == "0"
    assert [p.get("name") for p in conf.findall("profiles/profile")] == ["external", "internal"]
    ext = conf.find("profiles/profile[@name='external']")
    assert {p.get("name"): p.get("value") for p in ext.findall("settings/param")} == {
        "sip-port": "5080", "context": "public", "auth-calls": "false"}
    gw = ext.find("gateways/gateway[@name='num_74951234567']")
    params = {p.get("name"): p.get("value") for p in gw.findall("param")}
    assert params == {"register": "true", "proxy": "sip.operator.example:5060",
                      "realm": "sip.operator.example", "username": "74951234567",
                      "password": 'p&ss"<word>', "from-domain": "sip.operator.example",
                      "expire-seconds": "600", "retry-seconds": "30", "caller-id-in-from": "true"}
    gw_vars = {v.get("name"): v.get("value") for v in gw.findall("variables/variable")}
    assert gw_vars == {"absolute_codec_string": "PCMA,PCMU", "pult_number_id": "n-1", "pult_pbx_id": "7"}
    tr = ext.find("gateways/gateway[@name='trunk_7_3']")
    tparams = {p.get("name"): p.get("value") for p in tr.findall("param")}
    assert tparams == {"register": "false", "proxy": "203.0.113.10:5070", "ping": "30",
                       "caller-id-in-from": "false", "context": "public"}
    assert "username" not in tparams  # mod_sofia fills a dummy for IP-authenticated trunks
    assert conf.find("profiles/profile[@name='internal']/gateways").findall("gateway") == []


def test_every_gateway_param_is_one_freeswitch_knows():
    section = fs_parse(build_sofia_conf([SofiaProfile("external", {}, list(gateways_sample()))]),
                       "configuration")
    names = {p.get("name") for p in section.iter("param")}
    assert names <= FS_GATEWAY_PARAMS, names - FS_GATEWAY_PARAMS


def test_gateway_password_is_escaped_and_not_in_repr():
    number, _ = gateways_sample()
    text = build_sofia_conf([SofiaProfile("external", {}, [number])])
    assert 'value="p&amp;ss&quot;&lt;word&gt;"' in text
    assert "p&ss" not in repr(number)


@pytest.mark.parametrize("gateway, message", [
    (SofiaGateway("g", proxy=""), "proxy"),
    (SofiaGateway("g", proxy="h", register=True, username="u"), "username and password"),
    (SofiaGateway("g", proxy="h", ping=2), "ping must be 5..3600"),
    (SofiaGateway("g", proxy="h", expire_seconds=1), "expire_seconds"),
    (SofiaGateway("g", proxy="h", register_transport="sctp"), "register_transport"),
    (SofiaGateway("g", proxy="h", codecs=("PCMA,PCMU",)), "not a codec name"),
    (SofiaGateway("bad name", proxy="h"), "gateway name"),
    (SofiaGateway("g", proxy="h", variables={"x": "\x00"}), "control character"),
])
def test_bad_gateways_are_refused(gateway, message):
    with pytest.raises(XmlBuildError, match=message):
        build_sofia_conf([SofiaProfile("external", {}, [gateway])])


def test_gateway_names_are_unique_across_profiles():
    gw = SofiaGateway("same", proxy="h")
    with pytest.raises(XmlBuildError, match="gateway same listed twice"):
        build_sofia_conf([SofiaProfile("a", {}, [gw]), SofiaProfile("b", {}, [gw])])
    with pytest.raises(XmlBuildError, match="profile a listed twice"):
        build_sofia_conf([SofiaProfile("a"), SofiaProfile("a")])


# --- acl.conf --------------------------------------------------------------------------------
def test_acl_conf_with_trunks_and_whitelist():
    lists = [allow_list("pult_trunks", ["203.0.113.10/32", "198.51.100.0/24", "2001:db8::/64"]),
             whitelist_acl("pbx7_sip", ["192.168.1.16-32", "10.*"]),
             AclList("deny_some", default="allow", nodes=[AclNode("deny", "192.0.2.0/24")])]
    section = fs_parse(build_acl_conf(lists), "configuration")
    conf = section.find("configuration")
    assert conf.get("name") == "acl.conf"
    got = {lst.get("name"): (lst.get("default"), [(n.get("type"), n.get("cidr")) for n in lst.findall("node")])
           for lst in conf.findall("network-lists/list")}
    assert got == {
        "pult_trunks": ("deny", [("allow", "203.0.113.10/32"), ("allow", "198.51.100.0/24"),
                                 ("allow", "2001:db8::/64")]),
        "pbx7_sip": ("deny", [("allow", "10.0.0.0/8"), ("allow", "192.168.1.16/28"),
                              ("allow", "192.168.1.32/32")]),
        "deny_some": ("allow", [("deny", "192.0.2.0/24")]),
    }
    for node in conf.iter("node"):
        assert set(node.attrib) == {"type", "cidr"}


@pytest.mark.parametrize("lists, message", [
    ([AclList("x", nodes=[AclNode("permit", "1.2.3.4/32")])], "allow' or 'deny"),
    ([AclList("x", nodes=[AclNode("allow", "1.2.3.4/33")])], "cidr"),
    ([AclList("x", nodes=[AclNode("allow", "10.0.0.1/8")])], "host bits"),
    ([AclList("x", default="maybe")], "default must be"),
    ([AclList("x"), AclList("x")], "listed twice"),
    ([AclList("has space")], "acl list name"),
])
def test_bad_acl_lists_are_refused(lists, message):
    with pytest.raises(XmlBuildError, match=message):
        build_acl_conf(lists)


def test_bad_whitelist_entry_names_the_entry():
    with pytest.raises(WhitelistEntryError, match="'192.168.1'"):
        whitelist_acl("pbx7_sip", ["192.168.1"])


# --- conference.conf -------------------------------------------------------------------------
def test_conference_conf_profiles_with_seat_limits():
    profiles = [
        ConferenceProfile("vpbx7_adhoc", max_members=16, rate=16000),
        ConferenceProfile("vpbx7_room_1000", max_members=8, pin="1234", moderator_pin="98765",
                          moh_sound="local_stream://moh", params={"max-members-sound": "conference/full.wav",
                                                                 "announce-count": 5}),
    ]
    section = fs_parse(build_conference_conf(profiles), "configuration")
    conf = section.find("configuration")
    assert conf.get("name") == "conference.conf"
    room = conf.find("profiles/profile[@name='vpbx7_room_1000']")
    params = {p.get("name"): p.get("value") for p in room.findall("param")}
    assert params == {"max-members": "8", "pin": "1234", "moderator-pin": "98765",
                      "caller-controls": "default", "moh-sound": "local_stream://moh",
                      "max-members-sound": "conference/full.wav", "announce-count": "5"}
    adhoc = conf.find("profiles/profile[@name='vpbx7_adhoc']")
    assert {p.get("name"): p.get("value") for p in adhoc.findall("param")} == {
        "max-members": "16", "rate": "16000", "caller-controls": "default"}
    group = conf.find("caller-controls/group[@name='default']")
    controls = [(c.get("digits"), c.get("action")) for c in group.findall("control")]
    assert controls == list(DEFAULT_CONTROLS.controls)
    names = {p.get("name") for p in conf.iter("param")}
    assert names <= FS_CONFERENCE_PARAMS, names - FS_CONFERENCE_PARAMS


async def test_conference_document_answers_both_recorded_conference_lookups():
    """mod_conference asked for the profile, then (Action=request-controls) for its controls."""
    doc = build_conference_conf([ConferenceProfile("default", max_members=10)])

    async def conference(req):
        return doc

    provider = by_conf_name({"conference.conf": conference})
    lookups = [json.loads(line)["form"] for line in TRACE.read_text().splitlines()]
    conf_lookups = [f for f in lookups if f["key_value"] == "conference.conf"]
    assert len(conf_lookups) == 2
    for form in conf_lookups:
        req = XmlCurlRequest.from_fields(form)
        conf = fs_parse(await provider(req), "configuration").find("configuration")
        wanted_profile = form.get("profile_name") or form.get("Conf-Profile")
        assert conf.find(f"profiles/profile[@name='{wanted_profile}']") is not None
        if form.get("Action") == "request-controls":
            assert conf.find(f"caller-controls/group[@name='{form['Controls']}']") is not None
    # other .conf names stay FreeSWITCH's own
    for form in lookups:
        if form["section"] == "configuration" and form["key_value"] != "conference.conf":
            assert await provider(XmlCurlRequest.from_fields(form)) is None


@pytest.mark.parametrize("profile, message", [
    (ConferenceProfile("c", max_members=1), "at least 2"),
    (ConferenceProfile("c", max_members=0), "at least 2"),
    (ConferenceProfile("c", max_members=True), "whole number"),
    (ConferenceProfile("c", max_members=4, rate=11025), "rate must be one of"),
    (ConferenceProfile("c", max_members=4, pin="12a4"), "pin must be digits"),
    (ConferenceProfile("c", max_members=4, params={"max-memberz": 3}), "unknown conference param"),
    (ConferenceProfile("c", max_members=4, params={"max-members": 3}), "named fields"),
    (ConferenceProfile("c", max_members=4, caller_controls="nosuch"), "not in this document"),
])
def test_bad_conference_profiles_are_refused(profile, message):
    with pytest.raises(XmlBuildError, match=message):
        build_conference_conf([profile])


def test_bad_caller_controls_are_refused():
    with pytest.raises(XmlBuildError, match="not DTMF"):
        build_conference_conf([], [ControlGroup("g", [("x", "mute")])])
    with pytest.raises(XmlBuildError, match="unknown action"):
        build_conference_conf([], [ControlGroup("g", [("1", "explode")])])


def test_profile_without_caller_controls():
    text = build_conference_conf([ConferenceProfile("c", max_members=3, caller_controls=None)], [])
    conf = fs_parse(text, "configuration").find("configuration")
    assert [p.get("name") for p in conf.iter("param")] == ["max-members"]
