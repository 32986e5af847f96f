"""The call engine (esl_control/flow/, LiveChannel) on the real switch: what it tells FreeSWITCH
1.10.12 must be what the switch accepts and behaves with as the engine expects.

The demo PBX (``pult seed-demo``) has no scheme on its number and nobody in its default group, so
a call to its DID goes (PRODUCT.md §4.1) to the default group, then to voice mail: the voice mail
warning (a builtin sound played as ``http_cache://`` + Pult's signed URL), a beep
(``tone_stream://``), ``record`` into ``settings.spool_dir``; the spool job imports the file.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
import uuid as uuidlib
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fsim.fax import write_blank_tiff
from tests.realfs.harness import wait_until

DID = "74951234567"  # the demo PBX's number (pult seed-demo)


def calls_of(stack, **match) -> list[dict]:
    items = stack.tenant().ok("GET", "/api/v1/calls?per_page=100")["items"]
    return [c for c in items if all(c.get(k) == v for k, v in match.items())]


def session_log(stack, uuid: str) -> list[str]:
    return [line for line in stack.fs.log_text().splitlines() if line.startswith(uuid)]


def played(stack, uuid: str) -> list[str]:
    """The files the switch finished playing on the channel ``uuid`` (its own debug log)."""
    return [m.group(1) for line in session_log(stack, uuid)
            if (m := re.search(r"done playing file (\S+)", line))]


def executed(stack, uuid: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for line in session_log(stack, uuid)
            if (m := re.search(r"EXECUTE \[depth=\d+\] \S+ (\w+)\((.*)\)$", line))]


def gone(stack, *uuids: str) -> bool:
    """Whether none of these channels exists any more (``uuid_exists``: the core's session table,
    at once; ``show channels`` is a database view that lags behind a fresh originate)."""
    return all(stack.fs.api(f"uuid_exists {u}").strip() == "false" for u in uuids)


def call_the_did(stack, app: str) -> tuple[str, str]:
    """A caller from outside (a fresh mobile number) calls the DID over loopback and, once
    answered, runs ``app`` (``park()``: stays silent); the caller's number and leg."""
    caller = f"7916{int(time.time() * 1000) % 10_000_000:07d}"
    a_leg = str(uuidlib.uuid4())
    reply = stack.fs.api(f"originate {{origination_uuid={a_leg},origination_caller_id_number={caller}}}"
                         f"loopback/{DID}/public &{app}")
    assert reply.startswith("+OK"), reply  # answered: not refused
    return caller, a_leg


@contextmanager
def did_scheme(stack, name: str, *steps: dict):
    """The DID answered by a new scheme ``name`` of one block (at any time) of ``steps``; afterwards
    the number has no scheme again and the scheme is deleted."""
    tenant = stack.tenant()
    number = next(n for n in tenant.ok("GET", "/api/v1/telephony/numbers?per_page=100")["items"]
                  if n["number"] == DID)
    scheme = tenant.ok("POST", "/api/v1/telephony/schemes", {
        "name": f"{name} {uuidlib.uuid4().hex[:6]}", "blocks": [{"schedule_id": None, "steps": list(steps)}]})
    tenant.ok("PUT", f"/api/v1/telephony/numbers/{number['id']}/scheme", {"scheme_id": scheme["id"]})
    try:
        yield scheme
    finally:
        tenant.ok("PUT", f"/api/v1/telephony/numbers/{number['id']}/scheme", {"scheme_id": None})
        tenant.request("DELETE", f"/api/v1/telephony/schemes/{scheme['id']}")


def fax_page(tmp_path: Path) -> Path:
    """A one-page fax as ``txfax`` sends it (TIFF, G3 2-D)."""
    raw, fax = tmp_path / "page.raw.tif", tmp_path / "page.tif"
    write_blank_tiff(raw, pages=1)
    subprocess.run(["tiffcp", "-c", "g3:2d", str(raw), str(fax)], check=True, capture_output=True)
    return fax


def engine_leg(stack, a_leg: str) -> str:
    """The loopback -b leg (the one Pult's engine runs) of the caller's leg ``a_leg``."""
    return wait_until(lambda: (v := stack.fs.api(f"uuid_getvar {a_leg} other_loopback_leg_uuid").strip())
                      and re.fullmatch(r"[0-9a-f-]{36}", v) and v, 10, 0.05, "the engine's leg (loopback -b)")


def test_voice_mail_is_recorded_into_the_spool_and_imported(stack):
    # the caller speaks (a 4 s tone: not silence) after the beep, then hangs up
    caller, a_leg = call_the_did(stack, "playback(tone_stream://%(4000,0,600))")
    b_leg = engine_leg(stack, a_leg)
    wait_until(lambda: gone(stack, a_leg, b_leg), 30, 0.2, "the call to end")
    record = wait_until(lambda: (r := calls_of(stack, caller=caller)) and r[0], 10, 0.2, "the call record")
    assert record["uuid"] == b_leg
    apps = executed(stack, b_leg)
    recorded = [arg for app, arg in apps if app == "record"]
    assert len(recorded) == 1, apps
    spool = Path(stack.pult.env["PULT_SPOOL_DIR"])
    path = recorded[0].split()[0]
    assert Path(path).parent == spool and Path(path).name.startswith(f"vm-{b_leg}-"), recorded
    files = played(stack, b_leg)
    # the voice mail warning came over HTTP from Pult (mod_http_cache) and the beep was heard
    assert any(f.startswith("http_cache://http") for f in files), files
    assert "tone_stream://%(500,0,1000)" in files, files
    assert "Invalid file format" not in "\n".join(session_log(stack, b_leg))
    assert record["duration"] >= 4, record  # the caller spoke for 4 s after the beep
    # the spool job stores it in the media store (linked to the call record), then deletes it
    name = Path(path).name
    wait_until(lambda: re.search(rf"spool file {re.escape(name)} stored as \S+ for PBX {stack.pbx_id}",
                                 stack.pult.log_text()), 30, 0.5, "the voice mail stored")
    wait_until(lambda: not (spool / name).exists(), 10, 0.3, "the spool file deleted")
    assert not (spool / "quarantine").exists() or not list((spool / "quarantine").iterdir())


# --- the worked example of inventory A §4.4.2.1: greeting, menu 1/2, no input, wrong digit ------
def engine_path(stack, uuid: str) -> list[dict]:
    """The engine's path as the switch last kept it on the channel (``pult_path``)."""
    sets = [m.group(1) for line in session_log(stack, uuid)
            if (m := re.search(r"SET \S+ \[pult_path\]=\[(.*)\]$", line))]
    return json.loads(sets[-1]) if sets else []


def menu_entries(path: list[dict]) -> list[dict]:
    return [e for e in path if e.get("step") == "menu"]


@pytest.fixture
def menu_scheme(stack):
    """Greeting (a builtin sound, waited for), then a menu: 1 → the default group (extension 6,
    nobody in it), 2 → voice mail, no input within 2 s → hang up, any other digit → hang up."""
    hangup = {"kind": "hangup"}
    with did_scheme(
            stack, "Worked example",
            {"kind": "greeting", "sound_id": "builtin:voicemail_warning", "wait_end": True},
            {"kind": "menu",
             "children": {"1": {"steps": [{"kind": "forward", "target": {"type": "extension", "value": "6"},
                                           "ring_time": 5}, hangup]},
                          "2": {"steps": [{"kind": "voicemail"}, hangup]}},
             "rules": {"no_input": {"timeout": 2, "steps": [hangup]},
                       "other_input": {"steps": [hangup]}}},
            hangup) as scheme:
        yield scheme


def call_menu(stack, digits: str | None) -> tuple[str, list[dict]]:
    """Call the DID from a loopback caller; once the menu collects, press ``digits`` with real
    DTMF (``uuid_send_dtmf`` on the caller's leg). The engine's leg uuid and its path."""
    _, a_leg = call_the_did(stack, "park()")
    try:
        b_leg = engine_leg(stack, a_leg)
        wait_until(lambda: any(app == "play_and_get_digits" for app, _ in executed(stack, b_leg)), 20, 0.1,
                   "the menu collecting digits")
        if digits:
            assert stack.fs.api(f"uuid_send_dtmf {a_leg} {digits}").startswith("+OK")
        wait_until(lambda: gone(stack, b_leg), 30, 0.2, "the call to end")
    finally:
        stack.fs.api(f"uuid_kill {a_leg}")
    wait_until(lambda: gone(stack, a_leg, b_leg), 10, 0.2, "no channel left")
    return b_leg, engine_path(stack, b_leg)


def test_worked_example_greeting_then_menu_item_2_is_voice_mail(stack, menu_scheme):
    b_leg, path = call_menu(stack, "2")
    files = played(stack, b_leg)
    assert any("voicemail_warning" in f and f.startswith("http_cache://") for f in files), files  # the greeting
    assert {"input": "2", "item": "2"}.items() <= menu_entries(path)[0].items(), path
    assert any(app == "record" for app, _ in executed(stack, b_leg)), executed(stack, b_leg)


def test_worked_example_no_input_takes_the_no_input_rule(stack, menu_scheme):
    b_leg, path = call_menu(stack, None)
    assert menu_entries(path) and menu_entries(path)[0].get("rule") == "no_input", path
    assert not any(app == "record" for app, _ in executed(stack, b_leg))


def test_worked_example_wrong_digit_takes_the_other_input_rule(stack, menu_scheme):
    b_leg, path = call_menu(stack, "7")
    assert {"input": "7", "rule": "other_input"}.items() <= menu_entries(path)[0].items(), path
    assert not any(app == "record" for app, _ in executed(stack, b_leg))


def test_worked_example_item_1_rings_the_default_group(stack, menu_scheme):
    b_leg, path = call_menu(stack, "1")
    assert {"input": "1", "item": "1"}.items() <= menu_entries(path)[0].items(), path


def test_a_blocked_pbxs_number_hears_the_notice_and_is_hung_up(stack):
    operator = stack.operator()
    operator.ok("POST", f"/api/v1/operator/pbxes/{stack.pbx_id}/block", {"reason": "traffic abuse"})
    try:
        caller, a_leg = call_the_did(stack, "park()")  # answered: the caller is told, not refused
        b_leg = engine_leg(stack, a_leg)
        wait_until(lambda: gone(stack, a_leg, b_leg), 30, 0.2, "the call to end")
        record = wait_until(lambda: (r := calls_of(stack, caller=caller)) and r[0], 10, 0.2, "the call record")
    finally:
        operator.ok("POST", f"/api/v1/operator/pbxes/{stack.pbx_id}/unblock")
    assert record["uuid"] == b_leg
    files = played(stack, b_leg)
    # the generated prompt set's notice, played to the end (not a tone standing in for a missing prompt)
    assert [f for f in files if f.endswith("/pbx_blocked.wav")], files
    assert not any(f.startswith("tone_stream://%(250,250,425)") for f in files), files
    assert engine_path(stack, b_leg)[-1]["step"] == "blocked"
    assert not any(app in ("bridge", "record") for app, _ in executed(stack, b_leg))
    assert record["result"] == "CALL_REJECTED"


def test_a_fax_sent_with_txfax_is_received_into_the_spool_and_imported(stack, tmp_path):
    fax = fax_page(tmp_path)
    with did_scheme(stack, "Fax line", {"kind": "fax"}, {"kind": "hangup"}):
        caller, a_leg = call_the_did(stack, f"txfax({fax})")
        b_leg = engine_leg(stack, a_leg)
        wait_until(lambda: gone(stack, a_leg, b_leg), 90, 0.5, "the fax call to end")
    record = wait_until(lambda: (r := calls_of(stack, caller=caller)) and r[0], 10, 0.2, "the call record")
    assert record["uuid"] == b_leg
    received = [arg for app, arg in executed(stack, b_leg) if app == "rxfax"]
    spool = Path(stack.pult.env["PULT_SPOOL_DIR"])
    assert len(received) == 1 and Path(received[0]).parent == spool, executed(stack, b_leg)
    name = Path(received[0]).name
    log = "\n".join(session_log(stack, b_leg))
    assert re.search(r"Fax successfully (received|managed)|pages transferred: +1", log, re.I), log[-3000:]
    wait_until(lambda: re.search(rf"spool file {re.escape(name)} stored as \S+ for PBX {stack.pbx_id}",
                                 stack.pult.log_text()), 30, 0.5, "the fax stored")
    wait_until(lambda: not (spool / name).exists(), 10, 0.3, "the spool file deleted")


def test_a_digit_pressed_during_a_greeting_that_does_not_wait_is_the_menu_choice(stack):
    """``playback_terminators=any``: the key stops the greeting, the switch reports it in
    ``playback_terminator_used`` and the menu takes it as the choice without playing."""
    hangup = {"kind": "hangup"}
    with did_scheme(stack, "Barge-in",
                    {"kind": "greeting", "sound_id": "builtin:voicemail_warning", "wait_end": False},
                    {"kind": "menu", "children": {"2": {"steps": [{"kind": "voicemail"}, hangup]}},
                     "rules": {"no_input": {"timeout": 2, "steps": [hangup]}}},
                    hangup):
        _, a_leg = call_the_did(stack, "park()")
        try:
            b_leg = engine_leg(stack, a_leg)
            wait_until(lambda: any(app == "playback" and arg.startswith("http_cache://")
                                   for app, arg in executed(stack, b_leg)), 10, 0.05, "the greeting playing")
            time.sleep(0.3)
            assert stack.fs.api(f"uuid_send_dtmf {a_leg} 2").startswith("+OK")
            wait_until(lambda: any(app == "record" for app, _ in executed(stack, b_leg)), 20, 0.1,
                       "voice mail (menu item 2)")
        finally:
            stack.fs.api(f"uuid_kill {a_leg}")
            wait_until(lambda: gone(stack, a_leg), 15, 0.2, "no channel left")
    path = engine_path(stack, b_leg)
    greeting = next(e for e in path if e["step"] == "greeting")
    assert greeting.get("pressed") == "2", path
    assert {"input": "2", "item": "2"}.items() <= menu_entries(path)[0].items(), path
    # the greeting was cut short by the key: the menu did not wait for digits of its own
    assert not any(app == "play_and_get_digits" for app, _ in executed(stack, b_leg)), executed(stack, b_leg)


def test_a_fax_machine_calling_a_menu_with_a_fax_rule_stops_the_greeting_and_is_received(stack, tmp_path):
    """mod_spandsp's detector on the real switch: a loopback caller runs ``txfax`` (its T.30 side
    sends the calling tone, CNG) into a scheme whose greeting (an 8 s melody) is followed by a
    menu with a fax rule. The engine starts ``spandsp_start_fax_detect`` before the greeting, the
    switch fires DETECTED_TONE, ``uuid_break`` stops the greeting, the menu takes its fax rule
    and ``rxfax`` receives the page into the spool."""
    fax = fax_page(tmp_path)
    hangup = {"kind": "hangup"}
    with did_scheme(stack, "Menu with fax",
                    {"kind": "greeting", "sound_id": "builtin:sirtaki", "wait_end": True},
                    {"kind": "menu", "children": {"1": {"steps": [hangup]}},
                     "rules": {"fax_detect": {"emails": []}, "no_input": {"timeout": 10, "steps": [hangup]}}},
                    hangup):
        _, a_leg = call_the_did(stack, f"txfax({fax})")
        try:
            b_leg = engine_leg(stack, a_leg)
            wait_until(lambda: gone(stack, a_leg, b_leg), 120, 0.5, "the fax call to end")
        finally:
            stack.fs.api(f"uuid_kill {a_leg}")
    apps = [app for app, _ in executed(stack, b_leg)]
    assert "spandsp_start_fax_detect" in apps and apps.index("spandsp_start_fax_detect") < apps.index("playback"), apps
    log = "\n".join(session_log(stack, b_leg))
    assert re.search(r"Fax Tone Detected", log), log[-3000:]
    path = engine_path(stack, b_leg)
    greeting = next(e for e in path if e.get("step") == "greeting")
    scheme_at = next(e for e in path if e.get("step") == "scheme")["t"]
    assert greeting.get("fax_tone") is True and greeting["t"] - scheme_at < 6, path  # cut short of its 8 s
    assert {"input": "fax_tone", "rule": "fax_detect"}.items() <= menu_entries(path)[0].items(), path
    assert apps.index("spandsp_stop_fax_detect") < apps.index("rxfax"), apps
    assert re.search(r"Fax successfully (received|managed)|pages transferred: +1", log, re.I), log[-3000:]
