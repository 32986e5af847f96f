"""The call engine (esl_control/flow/, LiveChannel) on the real switch: what it tells FreeSWITCH
1.10.12 must be what the switch accepts and behaves with as the engine expects.

The demo PBX (``pult seed-demo``) has no scheme on its number and nobody in its default group, so
a call to its DID goes (PRODUCT.md §4.1) to the default group, then to voice mail: the voice mail
warning (a builtin sound played as ``http_cache://`` + Pult's signed URL), a beep
(``tone_stream://``), ``record`` into ``settings.spool_dir``; the spool job imports the file.
"""
from __future__ import annotations

import re
import time
import uuid as uuidlib
from pathlib import Path

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


def test_voice_mail_is_recorded_into_the_spool_and_imported(stack):
    caller = f"7916{int(time.time()) % 10_000_000:07d}"
    a_leg = str(uuidlib.uuid4())
    # the caller speaks (a 4 s tone: not silence) after the beep, then hangs up
    reply = stack.fs.api(f"originate {{origination_uuid={a_leg},origination_caller_id_number={caller}}}"
                         f"loopback/{DID}/public &playback(tone_stream://%(4000,0,600))")
    assert reply.startswith("+OK"), reply
    wait_until(lambda: stack.fs.channels() == [], 30, 0.2, "the call to end")
    record = wait_until(lambda: (r := calls_of(stack, caller=caller)) and r[0], 10, 0.2, "the call record")
    b_leg = record["uuid"]
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
