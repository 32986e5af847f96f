"""The call engine ringing real SIP phones (SIPp registered with the real switch): a group of two
phones rung together, one answering; an internal call from one phone to another by extension."""
from __future__ import annotations

import re
import time
import uuid as uuidlib

import pytest

from tests.realfs.harness import wait_until
from tests.realfs.phones import answered_by, call
from tests.realfs.test_engine_calls import DID, call_the_did, calls_of, did_scheme, gone


@pytest.mark.parametrize("announce", [False, True], ids=["plain", "announcing_the_caller"])
def test_a_group_rings_two_phones_together_and_one_answers(stack, phones, tmp_path, announce):
    tenant = stack.tenant()
    answering, ringing = phones
    group = tenant.ok("POST", "/api/v1/telephony/groups", {
        "name": "Sales " + uuidlib.uuid4().hex[:4], "extension": str(700 + int(time.time()) % 200),
        "strategy": "simultaneous", "ring_time": 20, "announce_caller": announce,
        "members": [{"kind": "employee", "employee_id": ph.employee_id, "method": "card"} for ph in phones]})
    try:
        with did_scheme(stack, "To the group", {"kind": "forward", "target": {"type": "group", "id": group["id"]}},
                        {"kind": "hangup"}):
            answering.listen(tmp_path, answer=True)
            ringing.listen(tmp_path, answer=False)
            time.sleep(0.5)
            caller, a_leg = call_the_did(stack, f"playback(silence_stream://{15000 if announce else 6000})")
            try:
                # both phones got the INVITE; one answered, the other was cancelled
                wait_until(lambda: "BYE" in answering.messages() or "CANCEL" in ringing.messages(), 30, 0.3,
                           "the group's ringing settled")
                wait_until(lambda: gone(stack, a_leg), 30, 0.3, "the call to end")
                wait_until(lambda: stack.fs.channels() == [], 10, 0.3, "no channel left")
                # each phone's scenario ran to its end (SIPp exits 0): answered then BYE / rang then CANCEL
                assert answering.proc.wait(15) == 0, answering.proc.stdout.read()[-2000:]
                assert ringing.proc.wait(15) == 0, ringing.proc.stdout.read()[-2000:]
                assert re.search(r"^INVITE sip:", answering.messages(), re.M), answering.messages()[-2000:]
                assert re.search(r"^INVITE sip:", ringing.messages(), re.M), ringing.messages()[-2000:]
                assert re.search(r"^CANCEL sip:", ringing.messages(), re.M), ringing.messages()[-3000:]
                assert re.search(r"^BYE sip:", answering.messages(), re.M), answering.messages()[-3000:]
                # the caller was connected to the answering phone by the engine's one bridge
                bridges = [line for line in stack.fs.log_text().splitlines()
                           if re.search(r"EXECUTE \[depth=\d+\] \S+ bridge\(", line) and f"={caller}}}" in line]
                assert len(bridges) == 1 and f"user/{answering.login}@" in bridges[0] \
                    and f"user/{ringing.login}@" in bridges[0], bridges
                # the answering phone's leg really was connected (codecs agreed), not hung up at its 200 OK
                log = stack.fs.log_text()
                assert re.search(rf"Originate Resulted in Success: \[sofia/internal/{answering.login}@", log), \
                    [line for line in log.splitlines() if "INCOMPATIBLE" in line or "Originate Resulted" in line]
                if announce:
                    # the answering phone hears the caller's number (mod_say over the prompt set) before the
                    # bridge: group_confirm_key=exec runs `say` on that leg (switch_ivr_originate.c)
                    assert f"group_confirm_file=say ru number iterated {caller}" in bridges[0], bridges
                    said = [line for line in stack.fs.log_text().splitlines()
                            if re.search(rf"EXECUTE \[depth=\d+\] sofia/\S+ say\(ru number iterated {caller}\)", line)]
                    assert len(said) == 1, said
                records = wait_until(lambda: calls_of(stack, caller=caller), 10, 0.2, "the call record")
                assert any(r["callee"] == DID for r in records), records
            finally:
                stack.fs.api(f"uuid_kill {a_leg}")
    finally:
        tenant.request("DELETE", f"/api/v1/telephony/groups/{group['id']}")


def test_an_internal_call_from_one_phone_to_another_by_extension(stack, phones, tmp_path):
    caller, callee = phones
    msgs = answered_by(callee, tmp_path, lambda: call(caller, tmp_path, stack.fs.ports.sip_internal, callee.extension))
    assert re.search(r"^INVITE sip:", msgs, re.M) and re.search(r"^BYE sip:", msgs, re.M), msgs[-3000:]
    wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
    bridges = [line for line in stack.fs.log_text().splitlines()
               if re.search(r"EXECUTE \[depth=\d+\] \S+ bridge\(", line) and f"user/{callee.login}@" in line]
    assert len(bridges) == 1, bridges
