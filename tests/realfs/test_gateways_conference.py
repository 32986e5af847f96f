"""A trunk's gateway on the real switch (added by the reconcile, OPTIONS-pinged, its status in the
cabinet, removed with the trunk) and a conference room's seat limit (conference.conf from Pult)."""
from __future__ import annotations

import re
import time
import uuid as uuidlib

from tests.realfs.harness import free_tcp_udp_port, wait_until


def gateways(stack) -> str:
    return stack.fs.api("sofia status gateway")


def test_a_trunks_gateway_is_added_pinged_shown_and_removed(stack):
    tenant = stack.tenant()
    silent = tenant.ok("POST", "/api/v1/telephony/trunks", {
        "name": "Nobody there", "host": "127.0.0.1", "port": free_tcp_udp_port(), "options_ping": True})
    # a PBX that answers OPTIONS: the switch's own external profile
    alive = tenant.ok("POST", "/api/v1/telephony/trunks", {
        "name": "Answers", "host": "127.0.0.1", "port": stack.fs.ports.sip_external, "options_ping": True})
    try:
        for trunk in (silent, alive):
            wait_until(lambda: f"pult_trunk_{trunk['id']}" in gateways(stack), 15, 0.5,
                       f"gateway of trunk {trunk['name']} added")

        def status(trunk):
            return tenant.ok("GET", f"/api/v1/telephony/trunks/{trunk['id']}").get("status")

        # the first OPTIONS goes 30 s after the gateway is loaded (mod_sofia's ping interval)
        wait_until(lambda: status(alive) == "up", 60, 1, "the answering trunk shown up")
        wait_until(lambda: status(silent) == "down", 90, 1, "the silent trunk shown down")
    finally:
        for trunk in (silent, alive):
            tenant.request("DELETE", f"/api/v1/telephony/trunks/{trunk['id']}")
    for trunk in (silent, alive):
        wait_until(lambda: f"pult_trunk_{trunk['id']}" not in gateways(stack), 15, 0.5,
                   f"gateway of trunk {trunk['name']} removed")


def test_a_conference_room_refuses_the_member_beyond_its_seats(stack):
    tenant = stack.tenant()
    r = tenant.request("POST", "/api/v1/telephony/conference-rooms", {"name": "Board " + uuidlib.uuid4().hex[:4],
                                                                      "seats": 3})
    if r.status_code == 422 and "quota" in r.text.lower():  # the demo edition has no seats: give it some
        stack.operator().ok("PATCH", f"/api/v1/operator/pbxes/{stack.pbx_id}", {"edition": "business"})
        r = tenant.request("POST", "/api/v1/telephony/conference-rooms", {"name": "Board", "seats": 3})
    assert r.status_code in (200, 201), r.text
    room = r.json()
    conference = f"realfs-{uuidlib.uuid4().hex[:6]}@pult_room_{room['id']}"
    legs = []
    try:
        for i in range(4):
            leg = str(uuidlib.uuid4())
            legs.append(leg)
            reply = stack.fs.api(f"bgapi originate {{origination_uuid={leg}}}loopback/park/realfs "
                                 f"&conference({conference})")
            assert reply.startswith("+OK"), reply
            time.sleep(0.7)
        name = conference.split("@")[0]
        listing = wait_until(lambda: (t := stack.fs.api(f"conference {name} list")) and "Conference" not in t
                             and t, 10, 0.3, "the conference")
        wait_until(lambda: len(re.findall(r"^\d+;", stack.fs.api(f"conference {name} list"), re.M)) == 3, 10, 0.3,
                   "three members")
        time.sleep(1.5)
        members = re.findall(r"^\d+;", stack.fs.api(f"conference {name} list"), re.M)
        assert len(members) == 3, listing  # the fourth was refused (max-members from Pult's profile)
    finally:
        for leg in legs:
            stack.fs.api(f"uuid_kill {leg}")
        tenant.request("DELETE", f"/api/v1/telephony/conference-rooms/{room['id']}")
    wait_until(lambda: stack.fs.channels() == [], 10, 0.3, "no channel left")
