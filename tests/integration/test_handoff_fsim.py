"""A Pult instance that stops cleanly hands its callers on (issue 12, several Pult processes).

Two real ESL services with the call engine (gevent thread, greenswitch, outbound servers on their
own ports) over one store and the FreeSWITCH simulator; each beats into the test Redis with
:class:`esl_control.instances.OutboundInstances`. Instance A stops as ``pult serve`` does on
SIGTERM — it leaves the live set, then :func:`esl_control.instances.hand_off_calls`, then its
service stops — while a caller is in its menu: the switch is told ``uuid_transfer <uuid>
<number> XML public`` (and ``exit``) on A's socket, routes the call again and the dialplan
answer, now naming B, brings the caller into B's scheme from its start. A bridged caller stays
on the line (the switch keeps the bridge); with no other instance live the caller hears the
switch's own "please call later" (an ``inline`` dialplan) before the hang-up, never silence.
"""
from __future__ import annotations

import asyncio

import pytest

from esl_control.flow.runner import EngineFlow
from esl_control.instances import hand_off_calls
from tests.fsim import BridgeOutcome, FreeSwitchSimulator
from tests.integration.pult_instances import Instance, instance_pair
from tests.integration.test_flow_fsim import Policy, Prompts, path_steps, record_of, store  # noqa: F401
from tests.unit.flow_data import CLIENT_MEMBER, NUMBER, PBX_ID, WORK_TIME

CALLER = "79031234567"
VARIABLES = {"pult_pbx_id": str(PBX_ID), "pult_source": "number", "pult_number_id": "n1", "pult_number": NUMBER}


class EngineInstance(Instance):
    def make_flow(self):
        return EngineFlow(self.store.db, prompts=Prompts(), spool_dir="/srv/fs-01/spool",
                          sound_url=lambda pbx_id, sound_id: f"pult.test/fs/sounds/{pbx_id}/{sound_id}/wav8k.wav",
                          clock=lambda: WORK_TIME)

    async def stop_cleanly(self) -> dict:
        """What ``pult serve`` does on SIGTERM for the calls: leave, hand off, stop."""
        await self.instances.leave()
        counts = await hand_off_calls(self.instances, self.svc.outbound)
        await self.svc.stop()
        self.svc = None
        return counts


@pytest.fixture
async def pair(tmp_path, store, redis):  # noqa: F811
    policy = Policy()
    # 1 simulated second = 0.2 s: a menu's 5 s digit wait is long enough to stop A during it
    sim = FreeSwitchSimulator(hostname="fs1", bridge_policy=policy, time_scale=0.2)
    await sim.start()
    async with instance_pair(EngineInstance, tmp_path, store, sim, redis, NUMBER) as (a, b, _clock):
        yield sim, a, b, policy, store
    await sim.stop()


def commands(sim, call) -> list[tuple[str, str]]:
    """What the call's outbound sockets sent: (verb, application or api command line)."""
    out = []
    for c in sim.received_commands:
        if c.origin != f"outbound:{call.uuid}":
            continue
        if c.verb == "sendmsg":
            out.append(("sendmsg", c.headers.get("execute-app-name") or c.headers.get("call-command")))
        else:
            out.append((c.verb, c.line))
    return out


async def in_menu(sim, socket_data: str):
    """A caller on NUMBER, routed with ``socket_data``, waiting in the menu of the scheme."""
    sim.dialplan[NUMBER] = [("socket", socket_data)]
    call = await sim.place_call(CALLER, NUMBER, VARIABLES)
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=10,
                              predicate=lambda e: e.get("Application") == "play_and_get_digits")
    return call


async def in_menu_of_a(sim, a, b):
    """Both instances beat; a caller routed by A's dialplan answer (A first) waits in A's menu."""
    for inst in (a, b, a):
        await inst.instances.beat()
    return await in_menu(sim, await a.answer())


async def executed_after(call, index: int, app: str, timeout: float = 10.0):
    """The first CHANNEL_EXECUTE of ``app`` among the call's events after the first ``index``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for e in call.events[index:]:
            if e.name == "CHANNEL_EXECUTE" and e.get("Application") == app:
                return e
        if loop.time() > deadline:
            raise AssertionError(f"no {app} after event {index}")
        await asyncio.sleep(0.01)


async def test_a_caller_in_a_menu_of_a_stopping_instance_goes_on_in_the_scheme_of_the_live_one(pair):
    sim, a, b, policy, store = pair
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=2.0)]
    call = await in_menu_of_a(sim, a, b)
    assert [t for u, t in sim.socket_attempts if u == call.uuid] == [a.address]

    # the dialplan lookup of the transferred call is answered by a live instance: B alone now
    await b.instances.beat()
    sim.dialplan[NUMBER] = [("socket", await b.answer())]
    before = len(call.events)
    counts = await a.stop_cleanly()
    assert counts == {"handed": 1, "left": 0, "failed": 0}

    sent = commands(sim, call)
    transfer = sent.index(("api", f"api uuid_transfer {call.uuid} {NUMBER} XML public"))
    assert sent[transfer - 1] == ("api", f"api uuid_setvar {call.uuid} pult_handed_off {a.address}")
    assert sent[transfer + 1] == ("exit", "exit")
    # the switch routed the call again: B's socket, B's scheme from its start (greeting, menu)
    await executed_after(call, before, "play_and_get_digits")
    assert [t for u, t in sim.socket_attempts if u == call.uuid] == [a.address, b.address]
    assert call.uuid in b.svc.outbound.calls
    await call.send_dtmf("1")  # the caller chooses in B's menu: the client department answers
    cause = await call.wait_ended(timeout=20)
    assert cause == "NORMAL_CLEARING"
    rec = await record_of(b.svc, store, call.uuid)
    steps = path_steps(rec)
    assert steps[0] == {"step": "handed_off", "from": a.address}
    assert [s["step"] for s in steps][1:6] == ["inbound", "list", "scheme", "greeting", "menu"]
    ring = [s for s in steps if s["step"] == "ring"]
    assert ring and ring[0]["result"] == "answered" and ring[0]["legs"][0]["address"] == CLIENT_MEMBER
    assert rec["vars"]["pult_handed_off"] == a.address


async def test_a_bridged_call_stays_up_when_its_instance_stops(pair):
    sim, a, b, policy, store = pair
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=0.5, talk_seconds=10.0)]
    call = await in_menu_of_a(sim, a, b)
    await call.send_dtmf("1")
    await call.wait_for_event("CHANNEL_BRIDGE", timeout=10)
    # stopped once A has the switch's CHANNEL_BRIDGE too (the switch fired it; A reads it a moment later)
    own = a.svc.outbound.calls[call.uuid]
    deadline = asyncio.get_running_loop().time() + 5
    while not own.bridged and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)

    counts = await a.stop_cleanly()
    assert counts == {"handed": 0, "left": 1, "failed": 0}
    assert not [c for c in commands(sim, call) if c[0] == "api" and "uuid_transfer" in c[1]]
    assert not call.ended.done()  # still talking: the switch keeps the bridge
    cause = await call.wait_ended(timeout=20)
    names = call.event_names()
    assert names.index("CHANNEL_UNBRIDGE") < names.index("CHANNEL_HANGUP")  # the far end ended the talk
    assert cause == "NORMAL_CLEARING"
    assert [t for u, t in sim.socket_attempts if u == call.uuid] == [a.address]
    rec = await record_of(b.svc, store, call.uuid)  # B's inbound connection stored it
    assert rec["answer"] is not None


async def test_with_no_other_instance_live_the_caller_hears_please_call_later(pair):
    sim, a, b, policy, store = pair
    await b.instances.leave()
    await b.svc.stop()
    b.svc = None
    await a.instances.beat()
    call = await in_menu(sim, await a.answer())
    counts = await a.stop_cleanly()
    assert counts == {"handed": 1, "left": 0, "failed": 0}
    assert ("api", f"api uuid_transfer {call.uuid} answer,playback:/prompts/ru/call_failed.wav,"
                   "hangup:NORMAL_CLEARING inline") in commands(sim, call)
    cause = await call.wait_ended(timeout=10)
    assert cause == "NORMAL_CLEARING"
    played = [e.get("Application-Data") for e in call.events
              if e.name == "CHANNEL_EXECUTE" and e.get("Application") == "playback"]
    assert played[-1] == "/prompts/ru/call_failed.wav"
    assert [t for u, t in sim.socket_attempts if u == call.uuid] == [a.address]
