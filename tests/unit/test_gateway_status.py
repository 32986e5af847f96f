"""Gateway status from FreeSWITCH: the sofia::gateway_* events, the two status listings, and how
a report becomes the ``up``/``down``/``unknown`` a tenant sees on a number or trunk."""
from __future__ import annotations

import pytest

from esl_control.gateway_status import (GATEWAY_EVENTS, GatewayReport, judge, parse_gateway_event,
                                        parse_text_status, parse_xml_status)
from esl_control.model.vocabulary import gateway_owner
from esl_control.transport.protocol import EslEvent

#: A plain sofia::gateway_state event as mod_event_socket sends its body (URL-encoded values,
#: the common header block of the recorded traces, then the fields sofia_reg.c adds).
GATEWAY_STATE_EVENT = (
    "Event-Subclass: sofia%3A%3Agateway_state\n"
    "Event-Name: CUSTOM\n"
    "Core-UUID: 17c07682-cb41-405e-a928-094c2ddca25a\n"
    "FreeSWITCH-Hostname: vm\n"
    "FreeSWITCH-Switchname: vm\n"
    "FreeSWITCH-IPv4: 192.0.2.2\n"
    "FreeSWITCH-IPv6: fd00%3A%3A2\n"
    "Event-Date-Local: 2026-11-22%2003%3A14%3A02\n"
    "Event-Date-GMT: Sun,%2022%20Nov%202026%2003%3A14%3A02%20GMT\n"
    "Event-Date-Timestamp: 1795317242014022\n"
    "Event-Calling-File: sofia_reg.c\n"
    "Event-Calling-Function: sofia_reg_fire_custom_gateway_state_event\n"
    "Event-Calling-Line-Number: 133\n"
    "Event-Sequence: 1187\n"
    "Gateway: pult_num_65f0c0ffee0000000000aa01\n"
    "State: FAIL_WAIT\n"
    "Ping-Status: UP\n"
    "Phrase: Forbidden\n"
    "Status: 403\n"
)

#: `sofia xmlstatus gateway` as mod_sofia prints it (xml_gateway_status); note the realm and
#: proxy are not escaped by FreeSWITCH.
XML_STATUS = """<?xml version="1.0" encoding="ISO-8859-1"?>
<gateways>
  <gateway>
    <name>pult_trunk_65f0c0ffee0000000000bb02</name>
    <profile>external</profile>
    <scheme>Digest</scheme>
    <realm>10.0.0.1:5070</realm>
    <username>FreeSWITCH</username>
    <password>no</password>
    <from>&lt;sip:FreeSWITCH@10.0.0.1:5070&gt;</from>
    <contact>&lt;sip:gw+pult_trunk_65f0c0ffee0000000000bb02@192.0.2.2:5080;transport=udp;gw=pult_trunk_65f0c0ffee0000000000bb02&gt;</contact>
    <exten>FreeSWITCH</exten>
    <to>sip:FreeSWITCH@10.0.0.1:5070</to>
    <proxy>sip:10.0.0.1:5070</proxy>
    <context>public</context>
    <expires>3600</expires>
    <freq>3600</freq>
    <ping>1795317270</ping>
    <pingfreq>30</pingfreq>
    <pingmin>1</pingmin>
    <pingcount>0</pingcount>
    <pingmax>1</pingmax>
    <pingtime>0.00</pingtime>
    <pinging>0</pinging>
    <state>NOREG</state>
    <status>DOWN</status>
    <uptime-usec>0</uptime-usec>
    <calls-in>0</calls-in>
    <calls-out>0</calls-out>
    <failed-calls-in>0</failed-calls-in>
    <failed-calls-out>0</failed-calls-out>
  </gateway>
  <gateway>
    <name>pult_num_65f0c0ffee0000000000aa01</name>
    <profile>external</profile>
    <scheme>Digest</scheme>
    <realm>sip.operator.ru&co</realm>
    <username>user1</username>
    <password>yes</password>
    <from>&lt;sip:user1@sip.operator.ru&gt;</from>
    <contact>&lt;sip:gw+pult_num_65f0c0ffee0000000000aa01@192.0.2.2:5080;transport=udp;gw=pult_num_65f0c0ffee0000000000aa01&gt;</contact>
    <exten>78122223344</exten>
    <to>sip:user1@sip.operator.ru</to>
    <proxy>sip:sip.operator.ru:5060</proxy>
    <context>public</context>
    <expires>600</expires>
    <freq>600</freq>
    <ping>0</ping>
    <pingfreq>0</pingfreq>
    <pingmin>0</pingmin>
    <pingcount>0</pingcount>
    <pingmax>0</pingmax>
    <pingtime>0.00</pingtime>
    <pinging>0</pinging>
    <state>REGED</state>
    <status>UP</status>
    <uptime-usec>41000123</uptime-usec>
    <calls-in>2</calls-in>
    <calls-out>1</calls-out>
    <failed-calls-in>0</failed-calls-in>
    <failed-calls-out>0</failed-calls-out>
  </gateway>
</gateways>
"""

#: `sofia status gateway` (cmd_status, one gateway per line, "%25s\t%32s\t%s\t%6.2f\t%u/%u\t%u/%u").
TEXT_STATUS = (
    "    Profile::Gateway-Name\t                    Data    \tState\tPing Time\tIB Calls(F/T)\tOB Calls(F/T)\n"
    "=================================================================================================\n"
    "external::pult_num_65f0c0ffee0000000000aa01\t     sip:user1@sip.operator.ru\tFAILED\t  0.00\t0/0\t0/0"
    " (retry: 27s)\n"
    "external::pult_trunk_65f0c0ffee0000000000bb02\t      sip:FreeSWITCH@10.0.0.1:5070\tNOREG\t 12.40\t0/3\t1/9\n"
    "    internal::example.com\t       sip:joeuser@example.com\tREGED\t  0.00\t0/0\t0/0\n"
    "=================================================================================================\n"
    "3 gateways: Inbound(Failed/Total): 0/3,Outbound(Failed/Total):1/9\n"
)


def test_gateway_state_event_is_read_from_the_plain_event_body():
    event = EslEvent(raw=GATEWAY_STATE_EVENT)
    assert event.key == "sofia::gateway_state" and event.key in GATEWAY_EVENTS
    report = parse_gateway_event(event)
    assert report == GatewayReport("pult_num_65f0c0ffee0000000000aa01", state="FAIL_WAIT", ping_status="UP",
                                   sip_status=403, phrase="Forbidden")


def test_gateway_add_and_delete_events():
    add = EslEvent({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_add", "Gateway": "pult_trunk_x1",
                    "profile-name": "external"})
    delete = EslEvent({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_delete", "Gateway": "pult_trunk_x1",
                       "profile-name": "external"})
    assert parse_gateway_event(add) == GatewayReport("pult_trunk_x1", profile="external", added=True)
    assert parse_gateway_event(delete) == GatewayReport("pult_trunk_x1", profile="external", removed=True)
    assert parse_gateway_event(EslEvent({"Event-Name": "CUSTOM", "Event-Subclass": "conference::maintenance"})) is None
    assert parse_gateway_event(EslEvent({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::gateway_state"})) is None


def test_xml_status_listing():
    reports = parse_xml_status(XML_STATUS)
    assert reports == [
        GatewayReport("pult_trunk_65f0c0ffee0000000000bb02", state="NOREG", ping_status="DOWN", profile="external",
                      proxy="sip:10.0.0.1:5070"),
        GatewayReport("pult_num_65f0c0ffee0000000000aa01", state="REGED", ping_status="UP", profile="external",
                      proxy="sip:sip.operator.ru:5060")]
    assert parse_xml_status('<?xml version="1.0" encoding="ISO-8859-1"?>\n<gateways>\n</gateways>\n') == []
    for bad in ("-ERR sofia Command not found!\n", "Invalid Gateway!\n", ""):
        with pytest.raises(ValueError, match="not a sofia xmlstatus"):
            parse_xml_status(bad)


def test_text_status_listing_has_states_but_no_ping_verdict():
    reports = parse_text_status(TEXT_STATUS)
    assert reports == [
        GatewayReport("pult_num_65f0c0ffee0000000000aa01", state="FAILED", profile="external"),
        GatewayReport("pult_trunk_65f0c0ffee0000000000bb02", state="NOREG", profile="external"),
        GatewayReport("example.com", state="REGED", profile="internal")]
    with pytest.raises(ValueError, match="not a sofia status gateway"):
        parse_text_status("                     Name\t   Type\t      Data\tState\n====\n")


@pytest.mark.parametrize("report, registers, pings, expected", [
    (GatewayReport("g", state="REGED", ping_status="UP"), True, False, ("up", None, "REGED")),
    (GatewayReport("g", state="FAIL_WAIT", sip_status=403, phrase="Forbidden"), True, False,
     ("down", "registration fail wait (403 Forbidden)", "FAIL_WAIT")),
    (GatewayReport("g", state="TIMEOUT"), True, False, ("down", "registration timeout", "TIMEOUT")),
    (GatewayReport("g", state="TRYING", ping_status="UP"), True, False, (None, None, "TRYING")),
    (GatewayReport("g", state="NOREG", ping_status="DOWN", sip_status=503), False, True,
     ("down", "OPTIONS ping unanswered (503)", "NOREG, ping DOWN")),
    (GatewayReport("g", state="NOREG", ping_status="UP"), False, True, ("up", None, "NOREG, ping UP")),
    (GatewayReport("g", state="NOREG", ping_status="INVALID"), False, True, (None, None, "NOREG, ping INVALID")),
    (GatewayReport("g", state="NOREG", ping_status="UP"), False, False, ("unknown", None, "NOREG, ping UP")),
    (GatewayReport("g", profile="external", removed=True), False, True, ("unknown", None, "removed in profile external")),
    (GatewayReport("g", profile="external", added=True), True, False, (None, None, "loaded in profile external")),
])
def test_judge(report, registers, pings, expected):
    verdict = judge(report, registers=registers, pings=pings)
    assert (verdict.status, verdict.error, verdict.detail) == expected


def test_gateway_names_map_to_their_owner():
    assert gateway_owner("pult_num_65f0c0ffee0000000000aa01") == ("number", "65f0c0ffee0000000000aa01")
    assert gateway_owner("pult_trunk_abc-1") == ("trunk", "abc-1")
    for other in ("example.com", "pult_num_", "pult_trunk_a b", "", None, "pult_room_1"):
        assert gateway_owner(other) is None
