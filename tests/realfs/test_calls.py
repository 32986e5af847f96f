"""Calls on the real switch: a DID through Pult's dialplan and outbound socket, an unknown DID,
and the switch's ESL going away (hung, killed) and coming back."""
from __future__ import annotations

import signal
import time

from tests.realfs.harness import wait_until
from tests.realfs.test_engine_calls import DID, call_the_did, calls_of


def no_channels(stack) -> bool:
    return stack.fs.channels() == []


def test_a_did_call_ends_in_one_record_with_the_real_cause_and_no_lingering_session(stack):
    caller, a_leg = call_the_did(stack, "park()")  # Pult's flow answered the call
    # the flow plays its prompt and hangs up; both legs and the socket's session are gone at once
    hung_up = wait_until(lambda: not any(c["uuid"] == a_leg for c in stack.fs.channels()) and time.monotonic(),
                         20, 0.1, "the call to end")
    wait_until(lambda: no_channels(stack), 3, 0.1, "no channel left in show channels (lingering session)")
    assert time.monotonic() - hung_up < 3
    records = wait_until(lambda: calls_of(stack, caller=caller), 10, 0.2, "the call record")
    time.sleep(1.0)  # the same hang-up also arrives over the inbound connection: still one record
    records = calls_of(stack, caller=caller)
    assert len(records) == 1, records
    rec = records[0]
    assert rec["callee"] == DID
    assert rec["result"] == "NORMAL_CLEARING"  # the cause the switch reported
    assert rec["node"] == stack.node


def test_an_unknown_did_is_refused(stack):
    reply = stack.fs.api("originate {origination_caller_id_number=79160000000}loopback/74950000000/public &park()")
    assert reply.startswith("-ERR") and "UNALLOCATED_NUMBER" in reply, reply
    wait_until(lambda: no_channels(stack), 5, 0.1, "no channel left")


def test_a_hung_switch_is_shown_down_within_seconds_and_comes_back_by_itself(stack):
    stack.fs.signal(signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        node = wait_until(lambda: (n := stack.pult.node(stack.node))["state"] != "up" and n, 10, 0.2,
                          "the hung node shown down")
        assert time.monotonic() - stopped < 8
        assert "not answering" in (node["error"] or ""), node
        time.sleep(6)  # still stopped: still not up
        assert stack.pult.node(stack.node)["state"] != "up"
    finally:
        stack.fs.signal(signal.SIGCONT)
    wait_until(lambda: stack.pult.node(stack.node)["state"] == "up", 20, 0.2, "the node back up")


def test_a_killed_switch_is_noticed_at_once_and_resumed_after_restart(stack):
    stack.fs.signal(signal.SIGKILL)
    stack.fs.proc.wait(10)
    node = wait_until(lambda: (n := stack.pult.node(stack.node))["state"] != "up" and n, 5, 0.1,
                      "the killed node shown down")
    assert node["error"], node
    stack.fs.start()
    wait_until(lambda: stack.pult.node(stack.node)["state"] == "up", 20, 0.2, "the node back up")
    assert "is ready" in stack.fs.api("status")
