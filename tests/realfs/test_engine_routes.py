"""What the call engine sends for a group's attempts, an outbound call into a trunk and a call to a
conference room, on the real switch (FreeSWITCH 1.10.12; SIPp as phones and far ends).

- the pause between a group's attempts: ``set playback_timeout_sec=N`` + ``playback <melody>``
  (the switch stops a longer melody at N s), ``unset playback_timeout_sec``, then ``sleep`` for
  what is left of a pause longer than its melody; the next attempt rings again;
- a SIP URI member: ``sofia/external/<user@host:port>``;
- an outbound call: the route's mask rewrites the dialled number, ``sofia/gateway/pult_trunk_<id>/
  <number>`` sends it to the trunk's host, which gets the rewritten number; a short number that
  is no extension here reaches the customer's own PBX through a mask (D §5.6 Ex. 2);
- a call from the customer's PBX through its trunk (an INVITE from the trunk's address to the
  external profile) for an extension here: ``bridge …user/<login>@<domain>``, the employee's
  phone answers (D §5.6 Ex. 1);
- a phone dialling a room's extension: ``conference <id>@pult_room_<id>`` joins it with the
  room's profile (served by Pult).
"""
from __future__ import annotations

import re
import time
import uuid as uuidlib
from contextlib import contextmanager

from tests.realfs.harness import free_tcp_udp_port, wait_until
from tests.realfs.phones import RING_THEN_ANSWER_XML, Phone, answered_by, call, call_from_trunk
from tests.realfs.test_conference_pin import conference_room
from tests.realfs.test_engine_calls import (call_the_did, calls_of, did_scheme, engine_leg, engine_path, executed,
                                            gone, session_log)


def playbacks(stack, uuid: str) -> list[tuple[str, bool]]:
    """The files the switch played on ``uuid``, in order, each with whether its
    ``playback_timeout_sec`` stopped it (the switch's own debug log)."""
    out, timed_out = [], False
    for line in session_log(stack, uuid):
        if "timeout reached playing file" in line:
            timed_out = True
        elif m := re.search(r"done playing file (\S+)", line):
            out.append((m.group(1), timed_out))
            timed_out = False
    return out


@contextmanager
def trunk_with_mask(stack, far: Phone, name: str, mask: str, transformation: str):
    """A trunk to ``far`` (no OPTIONS ping) that the PBX's one mask ``mask`` → ``transformation``
    routes into, its gateway loaded by the switch; afterwards no mask and no trunk."""
    tenant = stack.tenant()
    trunk = tenant.ok("POST", "/api/v1/telephony/trunks", {
        "name": f"{name} {uuidlib.uuid4().hex[:4]}", "host": "127.0.0.1", "port": far.port, "options_ping": False})
    try:
        tenant.ok("PUT", "/api/v1/telephony/trunks/masks", {"masks": [
            {"mask": mask, "transformation": transformation, "trunk_id": trunk["id"]}]})
        wait_until(lambda: f"pult_trunk_{trunk['id']}" in stack.fs.api("sofia status gateway"), 15, 0.3,
                   "the trunk's gateway")
        yield trunk
    finally:
        tenant.ok("PUT", "/api/v1/telephony/trunks/masks", {"masks": []})
        tenant.request("DELETE", f"/api/v1/telephony/trunks/{trunk['id']}")


def test_a_groups_attempts_are_separated_by_the_pause_and_its_melody(stack, tmp_path):
    """Two groups one after the other in a scheme:

    - «Night»: its one member (an employee without a contact method) cannot be rung; two attempts
      with a 2 s pause and «abba» (≈ 5 s) as the pause melody: the switch stops the melody at 2 s;
    - «Sales»: a SIP URI member (a SIPp far end) that does not answer the first attempt (rings 3 s,
      cancelled), then a 3 s pause with a 1.3 s melody played to its end and a sleep for the rest,
      and answers the second attempt: the caller is connected to it.
    """
    tenant = stack.tenant()
    tag = uuidlib.uuid4().hex[:4]
    nobody = tenant.ok("POST", "/api/v1/telephony/employees",
                       {"name": f"No phone {tag}", "extension": str(300 + int(time.time()) % 90)})
    far = Phone("far", "127.0.0.1", "", "", port=free_tcp_udp_port())
    made = {}
    try:
        made["night"] = tenant.ok("POST", "/api/v1/telephony/groups", {
            "name": f"Night {tag}", "extension": str(500 + int(time.time()) % 90), "strategy": "sequential",
            "ring_time": 3, "attempts": 2, "attempt_pause": 2, "pause_melody": "builtin:abba",
            "members": [{"kind": "employee", "employee_id": nobody["id"], "method": "card"}]})
        made["sales"] = tenant.ok("POST", "/api/v1/telephony/groups", {
            "name": f"Sales {tag}", "extension": str(600 + int(time.time()) % 90), "strategy": "sequential",
            "ring_time": 3, "attempts": 2, "attempt_pause": 3, "pause_melody": "builtin:voicemail_warning",
            "members": [{"kind": "external", "value": f"far@127.0.0.1:{far.port}"}]})
        with did_scheme(stack, "Attempts",
                        {"kind": "forward", "target": {"type": "group", "id": made["night"]["id"]}},
                        {"kind": "forward", "target": {"type": "group", "id": made["sales"]["id"]}},
                        {"kind": "hangup"}):
            far.listen(tmp_path, answer=True, scenario=RING_THEN_ANSWER_XML, calls=2)
            time.sleep(0.5)
            _, a_leg = call_the_did(stack, "park()")
            b_leg = engine_leg(stack, a_leg)
            # the far end answered the second INVITE and the caller is connected to it
            wait_until(lambda: len(re.findall(r"^ACK sip:", far.messages(), re.M)) >= 2, 40, 0.3,
                       "the far end answering the second attempt")
            wait_until(lambda: stack.fs.api(f"uuid_getvar {b_leg} bridge_uuid").strip().count("-") == 4, 10, 0.2,
                       "the caller bridged")
            stack.fs.api(f"uuid_kill {a_leg}")
            wait_until(lambda: gone(stack, a_leg, b_leg), 15, 0.2, "the call to end")
        assert far.proc.wait(15) == 0, far.proc.stdout.read()[-2000:]  # rang, cancelled; answered, BYE
        msgs = far.messages()
        assert len(re.findall(r"^INVITE sip:far@127\.0\.0\.1", msgs, re.M)) == 2, msgs[-3000:]
        assert re.search(r"^CANCEL sip:", msgs, re.M) and re.search(r"^BYE sip:", msgs, re.M), msgs[-3000:]
    finally:
        far.stop()
        for key in ("night", "sales"):
            if key in made:
                tenant.request("DELETE", f"/api/v1/telephony/groups/{made[key]['id']}")
        tenant.request("DELETE", f"/api/v1/telephony/employees/{nobody['id']}")
    apps = executed(stack, b_leg)
    bridges = [arg for app, arg in apps if app == "bridge"]
    assert len(bridges) == 2 and all(f"sofia/external/far@127.0.0.1:{far.port}" in b for b in bridges), apps
    assert all("leg_timeout=3" in b for b in bridges), bridges
    # each pause: the timeout set, the melody, the timeout unset (so later prompts play in full)
    sets = [arg for app, arg in apps if app == "set" and arg.startswith("playback_timeout_sec=")]
    assert sets == ["playback_timeout_sec=2", "playback_timeout_sec=3"], apps
    assert [arg for app, arg in apps if app == "unset"].count("playback_timeout_sec") == 2, apps
    melodies = [(f, cut) for f, cut in playbacks(stack, b_leg) if f.startswith("http_cache://")]
    assert len(melodies) == 2, playbacks(stack, b_leg)
    (abba, abba_cut), (beep, beep_cut) = melodies
    assert "abba" in abba and abba_cut, melodies  # stopped by playback_timeout_sec after 2 s
    assert "voicemail_warning" in beep and not beep_cut, melodies  # shorter than its pause: played out
    # the rest of Sales' 3 s pause is a sleep, after the melody and before the second attempt
    order = [app for app, arg in apps if app in ("bridge", "sleep")
             or (app == "playback" and arg.startswith("http_cache://"))]
    assert order == ["playback", "bridge", "playback", "sleep", "bridge"], apps
    sleep = next(int(arg) for app, arg in apps if app == "sleep")
    assert 0 < sleep < 3000, apps
    path = engine_path(stack, b_leg)
    pauses = [e for e in path if e.get("step") == "pause"]
    assert [p.get("seconds") for p in pauses] == [2, 3], path
    rings = [e for e in path if e.get("step") == "ring" and e.get("target") == f"group:{made['sales']['id']}"]
    # (the path kept on the channel is the one written before the answered bridge: the caller hung
    # up while bridged, so the second ring's result stays "ringing" there)
    assert [r.get("attempt") for r in rings] == [1, 2], path


def test_an_outbound_call_reaches_the_trunk_with_the_number_its_mask_makes(stack, phone, tmp_path):
    """A phone dials 55 1234567; the PBX's mask ``55(\\d{7})`` → ``7499$1`` routes it into the
    trunk, whose host (a SIPp far end) gets an INVITE for 74991234567 and answers."""
    (ph,) = phone
    # the demo account has no money: a call into the tenant's own trunk costs nothing (a charge
    # would block the PBX), and the trunk leg is a leg of the phone's call, not a record of its own
    far = Phone("trunk-far", "127.0.0.1", "", "", port=free_tcp_udp_port())
    with trunk_with_mask(stack, far, "Far PBX", "55(\\d{7})", "7499$1") as trunk:
        try:
            gateway = f"pult_trunk_{trunk['id']}"
            msgs = answered_by(far, tmp_path, lambda: call(ph, tmp_path, stack.fs.ports.sip_internal, "551234567"))
            invite = re.search(r"^INVITE sip:(\S+) SIP/2\.0$(.*?)^\s*$", msgs, re.M | re.S)
            assert invite and invite.group(1).startswith("74991234567@127.0.0.1"), msgs[-3000:]
            # the caller id into the trunk: the employee's extension (no outgoing number of this trunk)
            assert re.search(rf"^From:.*<sip:{ph.extension}@", invite.group(2), re.M), invite.group(0)
            assert re.search(r"^BYE sip:", msgs, re.M), msgs[-3000:]
            wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
            bridges = [line for line in stack.fs.log_text().splitlines() if re.search(
                rf"EXECUTE \[depth=\d+\] \S+ bridge\(.*sofia/gateway/{gateway}/74991234567\)$", line)]
            assert len(bridges) == 1, bridges
            # one call record: the phone's call, with the trunk leg that answered; rated at no cost
            rec = wait_until(lambda: ([c for c in calls_of(stack, callee="551234567", caller=ph.extension)
                                       if c["legs"] and c["cost"] is not None] or None), 30, 0.5, "the call rated")
            assert len(rec) == 1, rec
            [leg] = rec[0]["legs"]
            assert (leg["callee"], leg["target"], leg["result"]) == ("74991234567", f"trunk:{trunk['id']}",
                                                                     "NORMAL_CLEARING"), leg
            assert leg["billsec"] > 0 and rec[0]["cost"] == 0, rec
            assert calls_of(stack, callee="74991234567") == []
        finally:
            far.stop()


def test_a_short_number_of_the_customers_pbx_reaches_it_through_the_trunks_mask(stack, phone, tmp_path):
    """Inventory D §5.6 Ex. 2: a phone dials 456, no extension of this PBX; the mask
    ``([100-500])`` → ``$1`` sends it into the trunk of the customer's own PBX (a SIPp far end),
    which gets an INVITE for 456 and answers (was: "no such extension")."""
    (ph,) = phone
    far = Phone("trunk-far", "127.0.0.1", "", "", port=free_tcp_udp_port())
    with trunk_with_mask(stack, far, "Office PBX", "([100-500])", "$1"):
        try:
            msgs = answered_by(far, tmp_path, lambda: call(ph, tmp_path, stack.fs.ports.sip_internal, "456"))
            invite = re.search(r"^INVITE sip:(\S+) SIP/2\.0$", msgs, re.M)
            assert invite and invite.group(1).startswith("456@127.0.0.1"), msgs[-3000:]
            wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
        finally:
            far.stop()


def test_a_user_of_the_customers_pbx_reaches_an_extension_here_through_its_trunk(stack, phone, tmp_path):
    """Inventory D §5.6 Ex. 1: the customer's own PBX (SIPp on the trunk's address) sends its user
    201's call for the extension of an employee here to the switch's external profile; the
    dialplan takes it as the trunk's, the engine rings the employee's phone (a SIPp phone), which
    answers and gets 201 as the caller (was: the default group, then voice mail). One record."""
    tenant = stack.tenant()
    (ph,) = phone
    office = Phone("office-pbx", "127.0.0.1", "", "", port=free_tcp_udp_port())
    trunk = tenant.ok("POST", "/api/v1/telephony/trunks", {
        "name": "Office PBX " + uuidlib.uuid4().hex[:4], "host": "127.0.0.1", "port": office.port,
        "options_ping": False})
    user = f"2{int(time.time() * 1000) % 100:02d}"
    try:
        msgs = answered_by(ph, tmp_path,
                           lambda: call_from_trunk(office, tmp_path, stack.fs.ports.sip_external, ph.extension, user))
        invite = re.search(r"^INVITE sip:(\S+) SIP/2\.0$(.*?)^\s*$", msgs, re.M | re.S)
        assert invite and invite.group(1).startswith(f"{ph.login}@"), msgs[-3000:]
        assert re.search(rf"^From:.*<sip:{user}@", invite.group(2), re.M), invite.group(0)
        assert re.search(r"^BYE sip:", msgs, re.M), msgs[-3000:]
        wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
        bridges = [line for line in stack.fs.log_text().splitlines()
                   if re.search(r"EXECUTE \[depth=\d+\] \S+ bridge\(", line) and f"user/{ph.login}@" in line]
        assert len(bridges) == 1, bridges
        # one record: the call from the trunk, answered by the employee, nothing left in voice mail
        rec = wait_until(lambda: calls_of(stack, caller=user, callee=ph.extension) or None, 30, 0.5,
                         "the call's record")
        assert len(rec) == 1, rec
        answered = [leg for leg in rec[0]["legs"] if leg.get("billsec")]
        assert [leg["target"].split("/")[0] for leg in answered] == [f"employee:{ph.employee_id}"], rec
        assert "record" not in [app for app, _ in executed(stack, rec[0]["uuid"])]
    finally:
        office.stop()
        tenant.request("DELETE", f"/api/v1/telephony/trunks/{trunk['id']}")


def test_a_phone_dialling_a_rooms_extension_joins_the_room(stack, phone, tmp_path):
    (ph,) = phone
    with conference_room(stack, "Daily") as room:
        esl = stack.fs.esl()
        try:
            esl.subscribe("CUSTOM", "conference::maintenance")
            done = call(ph, tmp_path, stack.fs.ports.sip_internal, room["extension"])
            assert done.returncode == 0, done.stdout[-3000:]  # answered by the room, 2 s in it, hung up
            joined = []

            def added():
                while (ev := esl.next_event(0.5)) is not None:
                    if ev.get("Action") == "add-member":
                        joined.append(ev)
                return joined
            wait_until(added, 10, 0.1, "the phone added to the room")
        finally:
            esl.close()
    assert len(joined) == 1, joined
    assert joined[0].get("Conference-Name") == room["id"], joined
    assert joined[0].get("Conference-Profile-Name") == f"pult_room_{room['id']}", joined
    assert joined[0].get("Caller-Username") == ph.login, joined
    wait_until(lambda: stack.fs.channels() == [], 15, 0.3, "no channel left")
