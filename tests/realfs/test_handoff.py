"""A Pult instance that stops cleanly hands its callers on — on the real switch (FreeSWITCH 1.10.12).

The tier runs one Pult process (``pult serve``: the live instance); the stopping instance is the
real :class:`esl_control.outbound_server.OutboundServer` (gevent thread, greenswitch) in the test
process, holding a caller in a menu (``play_and_get_digits`` waiting 30 s for a digit). Its
:meth:`~esl_control.outbound_server.OutboundServer.hand_off` sends, in one write on the call's
socket, ``api uuid_setvar``, ``api uuid_transfer`` and ``exit``:

- another instance live: ``<DID> XML public`` — the switch stops the digit wait at once, routes
  the call again through Pult's xml_curl dialplan, and the live Pult runs the PBX's scheme for it
  (its path, kept on the channel, starts with ``handed_off``);
- none: the ``inline`` goodbye — the switch plays the generated "call_failed" prompt and hangs up
  with NORMAL_CLEARING.

The call is the inbound leg of ``originate loopback/socket_<port>/realfs &park()``: the tier's
own ``realfs`` context hands it to the test process's socket (as Pult's dialplan answer would);
its caller, the other half of the loopback pair, waits in ``park``.
"""
from __future__ import annotations

import asyncio
import re
import time
import uuid as uuidlib

from esl_control.flow.runner import EngineFlow
from esl_control.outbound_server import OutboundServer
from esl_control.prompts import PromptSet
from esl_control.transport.hub import GeventThread
from tests.realfs.conftest import PROMPTS_CACHE
from tests.realfs.harness import wait_until
from tests.realfs.test_engine_calls import DID, engine_path, executed, gone, session_log

MENU = "1 1 1 30000 # silence_stream://250 silence_stream://150 menu_digits \\d+ 3000"


class MenuFlow:
    """The stopping instance's calls: answered, waiting in a menu. Where a hand-off sends them is
    the engine's own choice (EngineFlow.handoff_target) for the goodbye, and the demo PBX's DID in
    ``public`` for the dialplan: this call's own destination, ``socket_<port>`` in ``realfs``, is
    not one Pult serves (the engine's choice of destination and context is unit-tested,
    tests/unit/test_flow_handoff_target.py)."""

    def __init__(self) -> None:
        self.in_menu = asyncio.Event()
        self.engine = EngineFlow(None, prompts=PromptSet(PROMPTS_CACHE))
        self.engine.instance_name = "realfs-stopping"

    async def run(self, call) -> None:
        await call.execute("answer")
        self.in_menu.set()
        await call.execute("play_and_get_digits", MENU)

    def handoff_target(self, call, others_live: bool):
        target, variables = self.engine.handoff_target(call, others_live)
        return (f"{DID} XML public", variables) if others_live else (target, variables)


async def _call_in_menu(stack, others_live: bool) -> tuple[str, dict, float]:
    hub = GeventThread()
    hub.start()
    flow = MenuFlow()
    server = OutboundServer(hub, flow, host="127.0.0.1", port=0)
    await server.start()
    try:
        caller = f"7916{int(time.time()) % 10_000_000:07d}"
        a_leg = str(uuidlib.uuid4())
        reply = await asyncio.to_thread(
            stack.fs.api, f"originate {{origination_uuid={a_leg},origination_caller_id_number={caller}}}"
                          f"loopback/socket_{server.port}/realfs &park()")
        assert reply.startswith("+OK"), reply
        await asyncio.wait_for(flow.in_menu.wait(), 10)
        [leg] = list(server.calls)  # the loopback's inbound half: the call the socket runs
        await asyncio.sleep(1.0)  # the digit wait has begun on the switch
        started = time.monotonic()
        counts = await server.hand_off(others_live, timeout=5)
        return leg, counts, time.monotonic() - started
    finally:
        await server.stop()
        await hub.stop()


def test_a_caller_in_a_menu_of_a_stopping_instance_goes_on_in_the_live_pults_scheme(stack):
    leg, counts, seconds = asyncio.run(_call_in_menu(stack, True))
    assert counts == {"handed": 1, "left": 0, "failed": 0} and seconds < 5
    # the live Pult answered the transferred call's lookup and runs the demo PBX's scheme for it
    path = wait_until(lambda: (p := engine_path(stack, leg)) and p, 20, 0.2, "the live Pult's path")
    assert path[0]["step"] == "handed_off" and path[0]["from"] == "realfs-stopping", path
    assert [e["step"] for e in path[1:3]] == ["inbound", "list"], path
    sockets = [arg for app, arg in executed(stack, leg) if app == "socket"]
    assert len(sockets) == 2 and sockets[0] != sockets[1], sockets
    log = "\n".join(session_log(stack, leg))
    assert f"XML[{DID}@public]" in log  # switch_ivr_session_transfer's "Transfer … to XML[…]"
    assert "Cannot park channels that are under control already" not in log
    assert not gone(stack, leg)  # in the live Pult's scheme, not hung up
    stack.fs.api(f"uuid_kill {leg}")
    wait_until(lambda: gone(stack, leg), 10, 0.2, "the call to end")


def test_with_no_other_instance_live_the_switch_says_please_call_later_and_hangs_up(stack):
    leg, counts, seconds = asyncio.run(_call_in_menu(stack, False))
    assert counts == {"handed": 1, "left": 0, "failed": 0} and seconds < 5
    wait_until(lambda: gone(stack, leg), 20, 0.2, "the call to end")
    apps = executed(stack, leg)
    playbacks = [arg for app, arg in apps if app == "playback"]
    assert playbacks and playbacks[-1].endswith("/call_failed.wav"), apps
    assert ("hangup", "NORMAL_CLEARING") in apps, apps
    assert not [arg for app, arg in apps if app == "socket"][1:], apps  # nobody else was asked
    log = "\n".join(session_log(stack, leg))
    assert re.search(r"done playing file \S+/call_failed\.wav", log), log[-2000:]
