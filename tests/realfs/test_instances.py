"""Several Pult instances on the real switch (FreeSWITCH 1.10.12, mod_event_socket).

Pult's dialplan answer names the live instances as ``socket h1:p1|h2:p2 async full``
(esl_control/instances.py). mod_event_socket's ``socket`` application (``socket_function`` in
mod_event_socket.c) splits the address on ``|`` (``switch_split``, up to 50 hosts), logs
"Trying host: <host:port>" for each, connects, and on a refused connection logs "Socket Error:
…" and tries the next one; the first that accepts gets the call; when none does the application
returns and the dialplan goes on. The tier runs one Pult process (its embedded store takes one
process), so the first instance here is an address nothing listens on: the call runs Pult's
own dialplan answer for the demo DID with that dead instance named first.
"""
from __future__ import annotations

import re
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import httpx

from tests.realfs.harness import XML_CURL_SECRET, free_port, wait_until
from tests.realfs.test_engine_calls import DID, calls_of, engine_leg, engine_path, executed, gone, session_log


def pult_dialplan_answer(stack, caller: str) -> list[tuple[str, str]]:
    """What Pult answers mod_xml_curl for a call to the demo DID (the switch's own request fields)."""
    r = httpx.post(f"http://127.0.0.1:{stack.pult.env['PULT_FS_PORT']}/fs/xml-curl", auth=("freeswitch", XML_CURL_SECRET),
                   data={"section": "dialplan", "hostname": stack.node, "FreeSWITCH-Switchname": stack.node,
                         "Hunt-Context": "public", "Hunt-Destination-Number": DID,
                         "Caller-Caller-ID-Number": caller, "Unique-ID": str(uuidlib.uuid4())}, timeout=10)
    assert r.status_code == 200, r.text
    doc = ET.fromstring(r.text)
    return [(a.get("application"), a.get("data")) for a in doc.iter("action")]


def test_a_call_reaches_the_next_instance_when_the_first_named_is_dead(stack):
    caller = f"7916{int(time.time() * 1000) % 10_000_000:07d}"
    answer = pult_dialplan_answer(stack, caller)
    sockets = [data for app, data in answer if app == "socket"]
    live = f"127.0.0.1:{stack.pult.env['PULT_OUTBOUND_PORT']}"
    assert sockets == [f"{live} async full"], answer  # one Pult is live: it names itself
    dead = f"127.0.0.1:{free_port()}"  # a Pult instance that died after the answer: nothing listens
    variables = ",".join(f"{data}" for app, data in answer if app == "set")
    assert "pult_number_id=" in variables and "," not in "".join(d for a, d in answer if a == "set" and "," in d)
    a_leg = str(uuidlib.uuid4())
    # the caller's loopback pair: the -b leg (inbound, as a trunk's call) runs Pult's answer with
    # `socket dead|live async full` (the tier's realfs context, extension "instances")
    reply = stack.fs.api(f"originate {{origination_uuid={a_leg},origination_caller_id_number={caller},{variables},"
                         f"test_instances={dead}|{live}}}loopback/instances/realfs &park()")
    try:
        assert reply.startswith("+OK"), reply
        for name in (data.split("=", 1)[0] for app, data in answer if app == "set"):
            stack.fs.api(f"uuid_setvar {a_leg} {name}")  # the caller's own leg is not Pult's call
        leg = engine_leg(stack, a_leg)
        # the engine runs the call: its path is on the channel (no scheme: the default group first)
        wait_until(lambda: engine_path(stack, leg), 15, 0.1, "the engine running the call")
    finally:
        stack.fs.api(f"uuid_kill {a_leg}")
    wait_until(lambda: gone(stack, a_leg, leg), 15, 0.2, "the call to end")
    log = "\n".join(session_log(stack, leg))
    tried = re.findall(r"Trying host: (\S+)", log)
    assert tried == [dead, live], log[-4000:]
    assert re.search(r"Socket Error: Connection refused", log), log[-4000:]
    assert ("socket", f"{dead}|{live} async full") in executed(stack, leg)
    # one record of the call, by the instance that took it (keyed by the loopback pair's -b leg)
    records = wait_until(lambda: calls_of(stack, caller=caller), 20, 0.3, "the call record")
    time.sleep(1)
    assert len(calls_of(stack, caller=caller)) == 1 and records[0]["uuid"] == leg, records
