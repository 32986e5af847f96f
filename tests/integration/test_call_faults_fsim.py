"""Faults of issue 12 through the FreeSWITCH simulator, with the call engine running the calls:
a Pult restart and a FreeSWITCH node restart in the middle of calls leave no call hanging and no
record lost or doubled.

Pult is the real ESL service (gevent thread, greenswitch, asyncio) with EngineFlow over the
embedded store, plus its ``/fs/cdr`` HTTP endpoint (what mod_json_cdr posts to). "Pult goes
away" stops both — the switch sees every call socket close and the CDR endpoint refuse
connections, as with a killed process; "Pult is back" starts a new service and endpoint on the
same store and port. The simulator does what FreeSWITCH 1.10.12 does when a call's outbound
socket closes (mod_event_socket: CF_CONTROLLED cleared, park ends after the running
application, the dialplan has nothing after ``socket``: hang-up) and delivers each record
itself with mod_json_cdr's retries.
"""
from __future__ import annotations

import asyncio
import socket
import uuid as uuidlib

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from esl_control.flow.runner import EngineFlow
from esl_control.flow.shared import RedisCallState
from esl_control.nodes import NodeState
from esl_control.service import EslService
from esl_control.transport.connection import in_background
from fs_config import cdr_routes
from pult.settings import load_settings
from tests.fsim import BridgeOutcome, FreeSwitchSimulator, JsonCdrPoster
from tests.integration.test_flow_fsim import GW, Policy, Prompts, apps, inbound  # noqa: F401
from tests.integration.test_flow_fsim import store  # noqa: F401  (the seeded store fixture)
from tests.integration.test_xml_curl_http import SECRET
from tests.unit.flow_data import CLIENT_MEMBER, NUMBER, PBX_ID, WORK_TIME

CALLER = "79031234567"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pult:
    """One Pult "process": the ESL service with the engine and the /fs/cdr endpoint."""

    def __init__(self, tmp_path, store, sim, http_port: int, shared=None):
        self.tmp_path, self.store, self.sim, self.http_port = tmp_path, store, sim, http_port
        self.shared = shared  # the calls counted per PBX (RedisCallState: shared by the instances)
        self.flow: EngineFlow | None = None
        self.svc: EslService | None = None
        self.http: HTTPServer | None = None

    async def start(self) -> None:
        settings = load_settings(data_dir=self.tmp_path / "data", esl_nodes=f"fs1=127.0.0.1:{self.sim.port}:ClueCon",
                                 esl_reconnect_min=0.05, esl_reconnect_max=0.3, outbound_host="127.0.0.1",
                                 outbound_port=0, esl_command_timeout=5, xml_curl_secret=SECRET,
                                 xml_curl_allow="127.0.0.0/8")
        flow = EngineFlow(self.store.db, prompts=Prompts(), spool_dir="/srv/fs-01/spool",
                          sound_url=lambda pbx_id, sound_id: f"pult.test/fs/sounds/{pbx_id}/{sound_id}/wav8k.wav",
                          clock=lambda: WORK_TIME, shared=self.shared)
        self.flow = flow
        # as the composition root (pult.cli) wires it: a stored record counts its call out
        self.svc = EslService(settings, self.store, flow=flow,
                              on_record_stored=lambda record: in_background(flow.call_recorded(record)))
        await self.svc.start()
        await self.svc.nodes.wait_for_state("fs1", NodeState.UP)
        self.sim.outbound_target = ("127.0.0.1", self.svc.outbound.port)
        self.http = HTTPServer(Application(cdr_routes(settings, self.svc.store_json_cdr)))
        self.http.add_sockets(bind_sockets(self.http_port, "127.0.0.1", family=socket.AF_INET, reuse_port=False))

    async def stop(self) -> None:
        """Gone: every call socket closes, the inbound connection too, /fs/cdr refuses."""
        if self.http is not None:
            self.http.stop()
            await self.http.close_all_connections()
            self.http = None
        if self.svc is not None:
            await self.svc.stop()
            self.svc = None


@pytest.fixture
async def faults(tmp_path, store, redis, request):
    policy = Policy()
    http_port = free_port()
    poster = JsonCdrPoster(f"http://127.0.0.1:{http_port}/fs/cdr", cred=("freeswitch", SECRET), delay=0.1,
                           retries=300)
    sim = FreeSwitchSimulator(hostname="fs1", bridge_policy=policy, time_scale=0.01, json_cdr=poster)
    await sim.start()
    shared = getattr(request, "param", None)
    pult = Pult(tmp_path, store, sim, http_port,
                shared=RedisCallState(redis, prefix=f"test:{uuidlib.uuid4().hex}")
                if shared == "redis" else None)
    await pult.start()
    yield sim, pult, policy, store, poster
    await pult.stop()
    await sim.stop()


async def records(store, uuid: str) -> list[dict]:
    return await store.db["call_records"].find({"uuid": uuid}).to_list(None)


async def eventually(predicate, timeout: float = 10.0, what: str = "condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def place(sim, caller: str = CALLER):
    return await sim.place_call(caller, NUMBER, {"pult_pbx_id": str(PBX_ID), "pult_source": "number",
                                                 "pult_number_id": "n1", "pult_number": NUMBER})


async def in_menu(call) -> None:
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                              predicate=lambda e: e.get("Application") == "play_and_get_digits")


async def test_pult_restart_mid_call_no_call_hangs_and_each_call_has_one_record(faults):
    sim, pult, policy, store, poster = faults
    # one caller will talk to the client department for a while (simulated minutes), one waits in the menu
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=150.0)]
    talking = await place(sim, "79030000001")
    await in_menu(talking)
    await talking.send_dtmf("1")
    await talking.wait_for_event("CHANNEL_BRIDGE", timeout=5)
    waiting = await place(sim, "79030000002")
    await in_menu(waiting)

    await pult.stop()  # Pult goes away with both calls in the engine

    # the caller in the menu is not left parked without a controller: the switch hangs the call up
    # once the running application is over
    assert await waiting.wait_ended(timeout=5) == "NORMAL_CLEARING"
    # the answered call is not cut: the bridge goes on until the far end hangs up, then it ends too
    assert not talking.channel.hungup
    assert await talking.wait_ended(timeout=10) == "NORMAL_CLEARING"
    assert not sim.channels  # nothing left on the switch
    # nobody stores the records meanwhile: the switch keeps retrying them
    assert await records(store, waiting.uuid) == [] and await records(store, talking.uuid) == []
    assert any(uuid == waiting.uuid and status == 0 for uuid, status in poster.attempts)

    await pult.start()  # a new Pult process: the switch's retries land
    await sim.json_cdr_drained(timeout=15)
    assert not poster.failed
    for call in (talking, waiting):
        docs = await records(store, call.uuid)
        assert len(docs) == 1, docs
        assert docs[0]["pbx_id"] == PBX_ID and docs[0]["node"] == "fs1"
        assert docs[0]["hangup_cause"] == "NORMAL_CLEARING"
    talked = (await records(store, talking.uuid))[0]
    # the engine's path up to the moment Pult left is in the record (kept on the switch)
    rings = [s for s in talked["path"] if s["step"] == "ring"]
    assert rings and rings[0]["legs"][0]["address"] == CLIENT_MEMBER
    assert talked["answer"] is not None and talked["billsec"] >= 1
    waited = (await records(store, waiting.uuid))[0]
    # (the menu is noted once answered: the path ends with the greeting the caller heard)
    assert [s["step"] for s in waited["path"]] == ["inbound", "list", "scheme", "greeting"]

    # a new call after the restart is served by the new process, and recorded once too
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=2.0)]
    after = await inbound(sim, "1", caller="79030000003")
    await sim.json_cdr_drained(timeout=15)
    await pult.svc.cdr.drained()
    assert len(await records(store, after.uuid)) == 1
    assert len(await records(store, talking.uuid)) == 1 and len(await records(store, waiting.uuid)) == 1


async def test_a_caller_hanging_up_while_pult_is_away_is_recorded_once(faults):
    sim, pult, policy, store, poster = faults
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=None)]  # until the caller leaves
    call = await place(sim)
    await in_menu(call)
    await call.send_dtmf("1")
    await call.wait_for_event("CHANNEL_BRIDGE", timeout=5)
    await pult.stop()
    await asyncio.sleep(0.2)
    assert not call.channel.hungup  # still talking without Pult
    await call.hangup("NORMAL_CLEARING")
    await call.wait_ended(timeout=5)
    assert not sim.channels
    await pult.start()
    await sim.json_cdr_drained(timeout=15)
    await pult.svc.cdr.drained()
    docs = await records(store, call.uuid)
    assert len(docs) == 1 and docs[0]["hangup_cause"] == "NORMAL_CLEARING"


async def test_node_restart_mid_call_the_engine_lets_go_and_the_call_is_closed_once_as_node_lost(faults):
    sim, pult, policy, store, poster = faults
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=None)]
    call = await place(sim)
    await in_menu(call)
    await call.send_dtmf("1")
    await call.wait_for_event("CHANNEL_BRIDGE", timeout=5)
    svc = pult.svc
    await eventually(lambda: asyncio.sleep(0, svc.nodes.status("fs1").calls_in_progress >= 1), what="call counted")

    await sim.crash_and_restart()  # the node dies with the call: no hang-up, no CDR

    await svc.nodes.wait_for_state("fs1", NodeState.UP, timeout=5)
    docs = await eventually(lambda: records(store, call.uuid), what="the lost call's record")
    # the engine's flow for the call is over (its socket closed), nothing is left counted
    await eventually(lambda: asyncio.sleep(0, not svc.outbound.calls), what="the flow let the call go")
    assert svc._flow.shared.calls == {}
    await svc.cdr.drained()
    await asyncio.sleep(0.3)
    docs = await records(store, call.uuid)
    assert len(docs) == 1
    assert docs[0]["hangup_cause"] == "NODE_LOST" and docs[0]["node"] == "fs1" and docs[0]["pbx_id"] == PBX_ID
    assert not poster.delivered  # the crashed node delivered nothing itself
    # the restarted node serves new calls through the engine
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=2.0)]
    after = await inbound(sim, "1", caller="79030000004")
    assert ("answer", None) in apps(sim, after)
    await sim.json_cdr_drained(timeout=15)
    await svc.cdr.drained()
    assert len(await records(store, after.uuid)) == 1


@pytest.mark.parametrize("faults", ["redis"], indirect=True)
async def test_a_call_counted_by_an_instance_that_died_is_counted_out_when_its_record_arrives(faults):
    """The PBX's current calls live in Redis (every instance counts them). An instance killed
    mid-call never counts its calls out; the call's record, however it arrives, does."""
    sim, pult, policy, store, poster = faults
    shared = pult.flow.shared
    dead_instance = RedisCallState(shared.redis, prefix=shared.prefix)
    lost = "6c0fd9a8-1111-4c3e-9a51-0d2f0c6e0001"
    assert await dead_instance.enter(PBX_ID, lost) == 1  # counted by the instance that then died
    doc = {"core-uuid": sim.core.core_uuid, "switchname": "fs1",
           "variables": {"uuid": lost, "pult_pbx_id": str(PBX_ID), "hangup_cause": "NORMAL_CLEARING",
                         "start_uepoch": "1796621697127264", "end_uepoch": "1796621707127264"},
           "callflow": [{"caller_profile": {"caller_id_number": CALLER, "destination_number": NUMBER},
                         "times": {}}]}
    assert await JsonCdrPoster(poster.url, cred=poster.cred, retries=0).post(lost, doc)  # the switch delivers it
    await eventually(lambda: records(store, lost), what="the record")
    await eventually(lambda: _zero(shared), what="the call counted out")
    # the live instance's own calls are counted in and out as before
    await inbound(sim, None)
    assert await _zero(shared)


@pytest.mark.parametrize("faults", ["redis"], indirect=True)
async def test_the_trunk_lines_a_dead_instances_call_rang_out_through_are_given_back_with_its_record(faults):
    """A call from the trunk t9 that an instance sent back out through t9 (a scheme's forward)
    and out through t8 holds a line of each (t9 twice: in and out); the instance dies. The call's
    record, delivered by the switch with the engine's path, gives every one of them back."""
    import json

    sim, pult, policy, store, poster = faults
    shared = pult.flow.shared
    dead_instance = RedisCallState(shared.redis, prefix=shared.prefix)
    lost = "6c0fd9a8-1111-4c3e-9a51-0d2f0c6e0002"
    await dead_instance.enter_all([PBX_ID, "trunk:t9"], lost)
    await dead_instance.enter("trunk:t9", f"{lost}/out")
    await dead_instance.enter("trunk:t8", lost)
    await dead_instance.enter("trunk:t8", "another-call")  # not this call's: stays
    path = [{"step": "forward", "target": "trunk:t9"},
            {"step": "ring", "target": "trunk:t9", "result": "no_answer",
             "legs": [{"target": "trunk:t9", "kind": "trunk", "address": "2001", "result": "no_answer"}]},
            {"step": "ring", "target": "trunk:t8", "result": "answered",
             "legs": [{"target": "trunk:t8", "kind": "trunk", "address": "2002", "result": "answered"}]}]
    doc = {"core-uuid": sim.core.core_uuid, "switchname": "fs1",
           "variables": {"uuid": lost, "pult_pbx_id": str(PBX_ID), "pult_trunk_id": "t9",
                         "pult_path": json.dumps(path), "hangup_cause": "NORMAL_CLEARING",
                         "start_uepoch": "1796621697127264", "end_uepoch": "1796621707127264"},
           "callflow": [{"caller_profile": {"caller_id_number": CALLER, "destination_number": "2001"},
                         "times": {}}]}
    assert await JsonCdrPoster(poster.url, cred=poster.cred, retries=0).post(lost, doc)
    await eventually(lambda: records(store, lost), what="the record")

    async def given_back() -> bool:
        return (await shared.redis.zcard(shared._calls("trunk:t9")) == 0
                and await shared.redis.zrange(shared._calls("trunk:t8"), 0, -1) == ["another-call"]
                and await _zero(shared))
    await eventually(given_back, what="the trunk lines given back")


async def _zero(shared) -> bool:
    return await shared.redis.zcard(shared._calls(PBX_ID)) == 0
