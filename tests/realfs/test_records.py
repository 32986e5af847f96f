"""Call records survive Pult going down: the switch's own CDR delivery (mod_json_cdr → /fs/cdr,
retried while Pult is away) — exactly one record per call, no channel left behind."""
from __future__ import annotations

import signal
import time
import uuid as uuidlib
import wave
from pathlib import Path

import pytest

from tests.realfs.harness import wait_until
from tests.realfs.test_calls import DID, calls_of, no_channels


@pytest.fixture
def long_prompt(stack):
    """The default flow's prompt as a 6 s WAV, so Pult's calls stay up for a while."""
    path = Path(stack.fs.run) / "sounds" / "ivr" / "ivr-welcome.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * 8000 * 6)
    yield path
    path.unlink()


def place(stack, caller: str) -> str:
    a_leg = str(uuidlib.uuid4())
    reply = stack.fs.api(f"bgapi originate {{origination_uuid={a_leg},origination_caller_id_number={caller}}}"
                         f"loopback/{DID}/public &park()")
    assert reply.startswith("+OK"), reply
    return a_leg


def test_pult_killed_while_calls_are_up_each_call_still_gets_one_record(stack, long_prompt):
    base = f"7917{int(time.time()) % 10_000_000:07d}"
    callers = [base[:-1] + str(i) for i in range(3)]
    legs = [place(stack, c) for c in callers]
    wait_until(lambda: sum(1 for c in stack.fs.channels() if c.get("callstate") == "ACTIVE") >= 6, 15, 0.2,
               "three answered calls (both loopback legs each)")
    stack.pult.kill()
    # one call ends while Pult is down: killed here, unless the switch already ended it by itself
    # (with its socket gone, a call ends when the application it runs ends: a call caught between
    # two of the engine's commands ends at once — the other test below)
    answer = stack.fs.api(f"uuid_kill {legs[0]} NORMAL_CLEARING")
    assert answer.startswith("+OK") or "No such channel" in answer, answer
    wait_until(lambda: stack.fs.api(f"uuid_exists {legs[0]}").strip() == "false", 10, 0.2,
               f"the first call over: {[(c['uuid'], c['name'], c['callstate'], c['state']) for c in stack.fs.channels()]}")
    time.sleep(2)
    stack.pult.start()
    wait_until(lambda: stack.pult.node(stack.node)["state"] == "up", 20, 0.2, "the node up again")
    for leg in legs[1:]:  # the others end after Pult is back
        stack.fs.api(f"uuid_kill {leg} NORMAL_CLEARING")
    wait_until(lambda: no_channels(stack), 15, 0.2, "no channel left")
    for caller in callers:
        wait_until(lambda: calls_of(stack, caller=caller), 30, 0.5, f"the record of {caller}")
    time.sleep(1.5)
    for caller in callers:
        records = calls_of(stack, caller=caller)
        assert len(records) == 1, records
        assert records[0]["callee"] == DID and records[0]["node"] == stack.node
        assert records[0]["result"]  # the switch's cause


def test_the_switch_killed_mid_call_the_call_is_closed_once_as_node_lost(stack, long_prompt):
    caller = f"7918{int(time.time()) % 10_000_000:07d}"
    place(stack, caller)
    wait_until(lambda: sum(1 for c in stack.fs.channels() if c.get("callstate") == "ACTIVE") >= 2, 15, 0.2,
               "the call answered")
    time.sleep(0.5)
    stack.fs.signal(signal.SIGKILL)
    stack.fs.proc.wait(10)
    stack.fs.start()
    wait_until(lambda: stack.pult.node(stack.node)["state"] == "up", 20, 0.2, "the node back up")
    records = wait_until(lambda: calls_of(stack, caller=caller), 10, 0.2, "the lost call's record")
    time.sleep(1.5)
    records = calls_of(stack, caller=caller)
    assert len(records) == 1, records
    assert records[0]["result"] == "NODE_LOST" and records[0]["node"] == stack.node
    assert records[0]["callee"] == DID
    assert no_channels(stack)


def test_pult_killed_mid_call_the_switch_ends_the_call_itself_and_it_is_recorded_once(stack, long_prompt):
    """mod_event_socket, when a call's outbound socket closes (Pult killed): CF_CONTROLLED is
    cleared, the running application goes on to its end, park ends, and the dialplan has nothing
    after ``socket`` — the switch hangs the call up by itself; nobody kills it here. The record
    then comes from the switch's own delivery (mod_json_cdr) once Pult is back."""
    caller = f"7919{int(time.time()) % 10_000_000:07d}"
    a_leg = place(stack, caller)
    wait_until(lambda: sum(1 for c in stack.fs.channels() if c.get("callstate") == "ACTIVE") >= 2, 15, 0.2,
               "the call answered by the engine")
    time.sleep(1.0)  # into the engine's steps (the demo PBX: default group, then voice mail)
    assert stack.fs.api(f"uuid_exists {a_leg}").strip() == "true"
    stack.pult.kill()
    wait_until(lambda: stack.fs.api(f"uuid_exists {a_leg}").strip() == "false" and no_channels(stack), 60, 0.5,
               "the switch to end the call without Pult")
    stack.pult.start()
    wait_until(lambda: stack.pult.node(stack.node)["state"] == "up", 20, 0.2, "Pult back, the node up")
    wait_until(lambda: calls_of(stack, caller=caller), 30, 0.5, "the call's record")
    time.sleep(1.5)
    records = calls_of(stack, caller=caller)
    assert len(records) == 1, records
    assert records[0]["callee"] == DID and records[0]["result"] == "NORMAL_CLEARING"
