"""External numbers through the operator's platform gateways, on the real switch (FreeSWITCH
1.10.12; SIPp as the phone and as the carriers).

- the operator's gateways are served in ``sofia.conf`` (``pult_platform_<id>`` on the external
  profile) and loaded by the gateway reconcile like a trunk's;
- a phone dials an external number: the engine bridges ``sofia/gateway/pult_platform_<a>/<n>|
  sofia/gateway/pult_platform_<b>/<n>``; the first carrier answers 503, the switch fails over to
  the second, which gets the INVITE for the number and answers;
- a group's external member ``<number>(252)``: the far end answers and the switch sends the
  extension's digits on that leg (``execute_on_answer=send_dtmf W252``); the far end (SIPp, no
  telephone-event in its SDP) gets them as SIP INFO ``application/dtmf-relay``, 2, 5, 2;
- a user of the customer's own PBX calls an external number through its trunk (D §5.6 Ex. 4):
  out through the platform gateway (never back into the trunk) with the trunk's default
  outgoing number as the caller id; one record, its leg charged to the PBX.
"""
from __future__ import annotations

import re
import time
import uuid as uuidlib

from tests.realfs.harness import free_tcp_udp_port, sipp_scenario, wait_until
from tests.realfs.phones import (ANSWERED, HUNG_UP, INVITED, OK_IN_DIALOG, RINGING, Phone, answered_by, call,
                                 call_from_trunk, reply)
from tests.realfs.test_engine_calls import DID, calls_of

#: answers every INVITE with 503 (a carrier that cannot take the call)
REJECT_503_XML = sipp_scenario("reject 503", INVITED, reply("503 Service Unavailable"), '<recv request="ACK"/>')

#: answers, then takes three INFOs (the switch sends DTMF as ``application/dtmf-relay`` INFO to a
#: far end that offers no telephone-event), then the BYE
ANSWER_THEN_DTMF_XML = sipp_scenario(
    "answer then DTMF", INVITED, RINGING, '<pause milliseconds="1000"/>', *ANSWERED,
    *('<recv request="INFO"/>', OK_IN_DIALOG) * 3, *HUNG_UP)


def _gateways(stack, *carriers: Phone) -> list[dict]:
    body = {"gateways": [{"name": f"{c.login} {uuidlib.uuid4().hex[:4]}", "proxy": f"127.0.0.1:{c.port}"}
                         for c in carriers]}
    got = stack.operator().ok("PUT", "/api/v1/operator/platform-gateways", body)["gateways"]
    names = [g["gateway"] for g in got]
    wait_until(lambda: all(n in stack.fs.api("sofia status gateway") for n in names), 20, 0.3,
               "the platform gateways loaded by the switch")
    return got


def _bridges_to(stack, number: str) -> list[str]:
    return [line for line in stack.fs.log_text().splitlines()
            if re.search(rf"EXECUTE \[depth=\d+\] \S+ bridge\(.*sofia/gateway/pult_platform_\w+/{number}\)$", line)]


def test_a_phone_dials_an_external_number_through_the_platform_gateways_with_failover(stack, phone, tmp_path):
    tenant = stack.tenant()
    (ph,) = phone
    number = f"7495{int(time.time() * 1000) % 10_000_000:07d}"
    stack.operator().ok("POST", f"/api/v1/accounts/{stack.creds['account_id']}/payments",
                        {"amount": "1000", "comment": "realfs: external calls through the platform gateways"})
    tenant.ok("PATCH", f"/api/v1/telephony/employees/{ph.employee_id}", {"outgoing_number": DID})
    busy = Phone("carrier-a", "127.0.0.1", "", "", port=free_tcp_udp_port())
    good = Phone("carrier-b", "127.0.0.1", "", "", port=free_tcp_udp_port())
    try:
        gws = _gateways(stack, busy, good)
        busy.listen(tmp_path, answer=False, scenario=REJECT_503_XML)
        # answered by the second carrier, talked, hung up
        answered_by(good, tmp_path, lambda: call(ph, tmp_path, stack.fs.ports.sip_internal, number))
        assert busy.proc.wait(15) == 0, busy.proc.stdout.read()[-2000:]
        for carrier in (busy, good):
            invite = re.search(r"^INVITE sip:(\S+) SIP/2\.0$(.*?)^\s*$", carrier.messages(), re.M | re.S)
            assert invite and invite.group(1).startswith(f"{number}@127.0.0.1"), carrier.messages()[-3000:]
            # the caller id: the employee's outgoing number, in From (caller-id-in-from), at the
            # carrier's host (not "[127.0.0.1:port]": a from-domain with a port is taken for IPv6)
            assert re.search(rf"^From:.*<sip:{DID}@127\.0\.0\.1>", invite.group(2), re.M), invite.group(0)
        assert re.search(r"^BYE sip:", good.messages(), re.M), good.messages()[-3000:]
        wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
        [bridge] = _bridges_to(stack, number)
        first, second = gws[0]["gateway"], gws[1]["gateway"]
        assert f"sofia/gateway/{first}/{number}|" in bridge and bridge.endswith(f"sofia/gateway/{second}/{number})")
        assert "fail_on_single_reject=USER_BUSY:NO_ANSWER" in bridge
    finally:
        busy.stop()
        good.stop()
        stack.operator().ok("PUT", "/api/v1/operator/platform-gateways", {"gateways": []})
        tenant.request("PATCH", f"/api/v1/telephony/employees/{ph.employee_id}", {"outgoing_number": None})


def test_a_numbers_extension_is_dialled_after_the_answer(stack, phone, tmp_path):
    """A group's external member ``<number>(252)``: the phone dials the group, the carrier's far
    end answers, and the switch sends 2, 5, 2 on that leg (``send_dtmf W252`` on answer)."""
    tenant = stack.tenant()
    (ph,) = phone
    number = f"7343{int(time.time() * 1000) % 10_000_000:07d}"
    stack.operator().ok("POST", f"/api/v1/accounts/{stack.creds['account_id']}/payments",
                        {"amount": "1000", "comment": "realfs: an external member with an extension"})
    carrier = Phone("carrier", "127.0.0.1", "", "", port=free_tcp_udp_port())
    group = None
    try:
        _gateways(stack, carrier)
        group = tenant.ok("POST", "/api/v1/telephony/groups", {
            "name": f"Branch {uuidlib.uuid4().hex[:4]}", "extension": str(700 + int(time.time()) % 90),
            "strategy": "sequential", "ring_time": 10,
            "members": [{"kind": "external", "value": f"{number}(252)"}]})
        msgs = answered_by(carrier, tmp_path, scenario=ANSWER_THEN_DTMF_XML,
                           place_call=lambda: call(ph, tmp_path, stack.fs.ports.sip_internal, group["extension"]))
        invite = re.search(r"^INVITE sip:(\S+) SIP/2\.0$", msgs, re.M)
        assert invite and invite.group(1).startswith(f"{number}@127.0.0.1"), msgs[-3000:]
        # the far end got the extension's digits after it answered, in order
        assert re.findall(r"^Signal=(\S+)", msgs, re.M) == ["2", "5", "2"], msgs[-3000:]
        assert msgs.index("ACK sip:") < msgs.index("INFO sip:")
        wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
        [bridge] = _bridges_to(stack, number)
        assert "execute_on_answer=send_dtmf W252" in bridge
        # the far leg (its origination_uuid) ran send_dtmf once it was answered
        leg = re.search(r"origination_uuid=([0-9a-f-]{36})", bridge).group(1)
        sent = [line for line in stack.fs.log_text().splitlines()
                if line.startswith(leg) and re.search(r"EXECUTE \[depth=\d+\] \S+ send_dtmf\(W252\)", line)]
        assert sent, [line for line in stack.fs.log_text().splitlines() if line.startswith(leg)][-40:]
    finally:
        carrier.stop()
        if group is not None:
            tenant.request("DELETE", f"/api/v1/telephony/groups/{group['id']}")
        stack.operator().ok("PUT", "/api/v1/operator/platform-gateways", {"gateways": []})


def test_a_user_of_the_customers_pbx_calls_out_through_the_platform_with_the_trunks_number(stack, sipp, tmp_path):
    """Inventory D §5.6 Ex. 4: the customer's own PBX (SIPp on the trunk's address) sends its user's
    call for an external number to the switch's external profile; the engine sends it out through
    the platform gateway — the carrier (a SIPp far end) gets the number with the trunk's default
    outgoing number (the PBX's DID) in From, not the user's 2xx — and answers. One call record,
    the carrier's leg answered and charged."""
    tenant = stack.tenant()
    number = f"7499{int(time.time() * 1000) % 10_000_000:07d}"
    user = f"2{int(time.time() * 1000) % 100:02d}"
    stack.operator().ok("POST", f"/api/v1/accounts/{stack.creds['account_id']}/payments",
                        {"amount": "1000", "comment": "realfs: a trunk's user calling out through the platform"})
    office = Phone("office-pbx", "127.0.0.1", "", "", port=free_tcp_udp_port())
    carrier = Phone("carrier", "127.0.0.1", "", "", port=free_tcp_udp_port())
    trunk = tenant.ok("POST", "/api/v1/telephony/trunks", {
        "name": "Office PBX " + uuidlib.uuid4().hex[:4], "host": "127.0.0.1", "port": office.port,
        "options_ping": False, "default_number": DID})
    try:
        [gw] = _gateways(stack, carrier)
        msgs = answered_by(carrier, tmp_path,
                           lambda: call_from_trunk(office, tmp_path, stack.fs.ports.sip_external, number, user))
        invite = re.search(r"^INVITE sip:(\S+) SIP/2\.0$(.*?)^\s*$", msgs, re.M | re.S)
        assert invite and invite.group(1).startswith(f"{number}@127.0.0.1"), msgs[-3000:]
        assert re.search(rf"^From:.*<sip:{DID}@127\.0\.0\.1>", invite.group(2), re.M), invite.group(0)
        assert re.search(r"^BYE sip:", msgs, re.M), msgs[-3000:]
        wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
        [bridge] = _bridges_to(stack, number)
        assert f"origination_caller_id_number={DID}" in bridge and bridge.endswith(f"sofia/gateway/{gw['gateway']}/{number})")
        assert "pult_trunk_" not in bridge, bridge
        # one record, from the trunk's user to the number: the carrier's leg answered and charged
        rec = wait_until(lambda: ([c for c in calls_of(stack, callee=number) if c["cost"] is not None] or None),
                         30, 0.5, "the call rated")
        assert len(rec) == 1 and rec[0]["caller"] == user, rec
        [leg] = rec[0]["legs"]
        assert (leg["callee"], leg["target"], leg["result"]) == (number, f"external:{number}", "NORMAL_CLEARING"), leg
        assert leg["billsec"] > 0 and rec[0]["cost"] > 0, rec
    finally:
        office.stop()
        carrier.stop()
        stack.operator().ok("PUT", "/api/v1/operator/platform-gateways", {"gateways": []})
        tenant.request("DELETE", f"/api/v1/telephony/trunks/{trunk['id']}")
