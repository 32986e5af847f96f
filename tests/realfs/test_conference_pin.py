"""A conference room with a PIN on the real switch (FreeSWITCH 1.10.12, mod_conference).

The engine joins a phone of the PBX to a room with ``conference <id>@pult_room_<id>+<pin>``
(esl_control/flow/live.py): mod_conference asks the caller for the PIN (the profile's
``pin-sound``), collects digits up to the PIN's length, and on a wrong one says ``bad-pin-sound``
and asks again, ``pin-retries`` times, then refuses the caller (no add-member) and the call ends. The caller is a loopback leg in the PBX's
context (``vpbx<id>``: an internal call) pressing keys with ``uuid_send_dtmf``.
"""
from __future__ import annotations

import time
import uuid as uuidlib
from contextlib import contextmanager

import pytest

from tests.realfs.harness import wait_until
from fs_config.tenant_providers import PIN_RETRIES
from tests.realfs.test_engine_calls import engine_leg, executed, gone, played, session_log

PIN = "4321"


@contextmanager
def conference_room(stack, name: str, **fields):
    """A new room of 5 seats (the demo edition has none: the PBX moves to «business»); deleted
    afterwards."""
    tenant = stack.tenant()
    body = {"name": f"{name} {uuidlib.uuid4().hex[:4]}", "seats": 5, **fields}
    r = tenant.request("POST", "/api/v1/telephony/conference-rooms", body)
    if r.status_code == 422 and "quota" in r.text.lower():  # the demo edition has no seats: give it some
        stack.operator().ok("PATCH", f"/api/v1/operator/pbxes/{stack.pbx_id}", {"edition": "business"})
        r = tenant.request("POST", "/api/v1/telephony/conference-rooms", body)
    assert r.status_code in (200, 201), r.text
    room = r.json()
    try:
        yield room
    finally:
        tenant.request("DELETE", f"/api/v1/telephony/conference-rooms/{room['id']}")


@pytest.fixture
def pin_room(stack):
    """A room whose PIN is asked of every caller."""
    with conference_room(stack, "Pin", pin=PIN, pin_for="all") as room:
        yield room


@pytest.fixture
def external_pin_room(stack):
    """A room whose PIN is asked of external callers only."""
    with conference_room(stack, "Pin", pin=PIN, pin_for="external") as room:
        yield room


def maintenance(esl, seconds: float) -> list[dict]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        ev = esl.next_event(0.3)
        if ev is not None and ev.get("Action"):
            out.append(ev)
    return out


def dial_room(stack, room) -> tuple[str, str]:
    """A caller of the PBX dials the room's extension; the caller's leg and the engine's leg."""
    a_leg = str(uuidlib.uuid4())
    reply = stack.fs.api(f"originate {{origination_uuid={a_leg},origination_caller_id_number=9{int(time.time()) % 1000:03d}}}"
                         f"loopback/{room['extension']}/vpbx{stack.pbx_id} &park()")
    assert reply.startswith("+OK"), reply
    return a_leg, engine_leg(stack, a_leg)


@contextmanager
def room_call(stack, room):
    """Listening to the rooms' maintenance events, a caller of the PBX dials ``room``: the event
    connection, the caller's leg and the engine's; the caller's leg is killed at the end."""
    esl = stack.fs.esl()
    a_leg = None
    try:
        esl.subscribe("CUSTOM", "conference::maintenance")
        a_leg, b_leg = dial_room(stack, room)
        yield esl, a_leg, b_leg
    finally:
        esl.close()
        if a_leg:
            stack.fs.api(f"uuid_kill {a_leg}")


def prompts_done(stack, b_leg: str, name: str) -> int:
    """How many times the switch finished playing the phrase file ``name`` on the engine's leg."""
    return sum(1 for f in played(stack, b_leg) if f.endswith(f"/{name}"))


def test_the_right_pin_joins_the_room(stack, pin_room):
    with room_call(stack, pin_room) as (esl, a_leg, b_leg):
        # the switch asks for the PIN with the room's prompt (Pult's prompt set, the PBX's language)
        wait_until(lambda: prompts_done(stack, b_leg, "conference/conf-pin.wav"), 15, 0.1, "the PIN prompt")
        assert stack.fs.api(f"uuid_send_dtmf {a_leg} {PIN}").startswith("+OK")
        events = wait_until(lambda: [e for e in maintenance(esl, 0.5) if e.get("Action") == "add-member"],
                            10, 0.1, "the caller added to the room")
        assert len(events) == 1, events
        assert events[0].get("Conference-Name") == pin_room["id"]
        assert events[0].get("Unique-ID") == b_leg
        assert stack.fs.api(f"uuid_exists {b_leg}").strip() == "true"  # in the room, talking
    wait_until(lambda: gone(stack, a_leg, b_leg), 15, 0.2, "the call to end")
    conf = [arg for app, arg in executed(stack, b_leg) if app == "conference"]
    assert conf == [f"{pin_room['id']}@pult_room_{pin_room['id']}+{PIN}"], conf
    assert prompts_done(stack, b_leg, "conference/conf-bad-pin.wav") == 0
    assert "Cannot ask the user for a pin" not in "\n".join(session_log(stack, b_leg))


def test_a_wrong_pin_is_asked_again_and_refused_after_the_rooms_tries(stack, pin_room):
    """Each wrong PIN hears the wrong-PIN phrase and is asked again; after PIN_RETRIES wrong
    ones the caller is refused (never added to the room) and the call ends."""
    with room_call(stack, pin_room) as (esl, a_leg, b_leg):
        for attempt in range(1, PIN_RETRIES + 1):
            wait_until(lambda: prompts_done(stack, b_leg, "conference/conf-pin.wav") >= attempt, 20, 0.1,
                       f"PIN prompt {attempt}")
            assert stack.fs.api(f"uuid_send_dtmf {a_leg} {attempt}{attempt}{attempt}{attempt}").startswith("+OK")
            wait_until(lambda: prompts_done(stack, b_leg, "conference/conf-bad-pin.wav") >= attempt, 20, 0.1,
                       f"wrong PIN {attempt} said")
        wait_until(lambda: gone(stack, a_leg, b_leg), 15, 0.2, "the refused call to end")
        events = maintenance(esl, 0.5)
    assert not [e for e in events if e.get("Action") == "add-member"], events
    assert prompts_done(stack, b_leg, "conference/conf-pin.wav") == PIN_RETRIES
    assert prompts_done(stack, b_leg, "conference/conf-bad-pin.wav") == PIN_RETRIES


def test_a_room_asking_the_pin_of_external_callers_only_lets_a_phone_of_the_pbx_in_at_once(stack, external_pin_room):
    with room_call(stack, external_pin_room) as (esl, a_leg, b_leg):
        events = wait_until(lambda: [e for e in maintenance(esl, 0.5) if e.get("Action") == "add-member"],
                            10, 0.1, "the caller added to the room")
        assert [e.get("Unique-ID") for e in events] == [b_leg], events
    wait_until(lambda: gone(stack, a_leg, b_leg), 15, 0.2, "the call to end")
    conf = [arg for app, arg in executed(stack, b_leg) if app == "conference"]
    assert conf == [f"{external_pin_room['id']}@pult_room_{external_pin_room['id']}"], conf  # no +PIN
    assert prompts_done(stack, b_leg, "conference/conf-pin.wav") == 0
