"""Several Pult instances: an instance that is down receives no new calls — the xml_curl dialplan
answer names live instances only (this one first, then the others that beat in Redis), and the
switch's ``socket`` application tries them in order, so a call whose first-named instance died
after the answer still reaches a live one.

Two real ESL services (gevent thread, greenswitch, outbound servers on their own ports) over one
store and the FreeSWITCH simulator; each beats with :class:`esl_control.instances.OutboundInstances`
into the test Redis (an injected clock stands for the time passing); the dialplan answer is the
real provider's XML, whose ``socket`` action the simulator runs as FreeSWITCH would.
"""
from __future__ import annotations

import re
import uuid as uuidlib

import pytest

from esl_control.instances import OutboundInstances
from esl_control.nodes import NodeState
from esl_control.service import EslService
from fs_config.dialplan import SocketDialplan
from fs_config.request import XmlCurlRequest
from pult.settings import load_settings
from storage.client import open_store
from tests.fsim import FreeSwitchSimulator

NUMBER = "74951234567"


@pytest.fixture
async def store(tmp_path):
    st = open_store(load_settings(data_dir=tmp_path / "data"))
    await st.start()
    yield st
    await st.close()


class Instance:
    def __init__(self, name, tmp_path, store, sim, redis, key, clock):
        self.name, self.tmp_path, self.store, self.sim = name, tmp_path, store, sim
        self.svc: EslService | None = None
        self.port: int | None = None
        self.instances = OutboundInstances(redis, self.own, key=key, ttl=10, interval=3, now=lambda: clock[0])
        self.dialplan = SocketDialplan(self.instances.addresses)

    def own(self):
        return ("127.0.0.1", self.svc.outbound.port) if self.svc and self.svc.outbound else None

    async def start(self):
        settings = load_settings(data_dir=self.tmp_path / self.name, esl_nodes=f"fs1=127.0.0.1:{self.sim.port}:ClueCon",
                                 esl_reconnect_min=0.05, esl_reconnect_max=0.3, outbound_host="127.0.0.1",
                                 outbound_port=0, esl_command_timeout=5)
        self.svc = EslService(settings, self.store)
        await self.svc.start()
        await self.svc.nodes.wait_for_state("fs1", NodeState.UP)
        self.port = self.svc.outbound.port

    async def die(self):
        """Gone without a word (no leave): its address stays in Redis until it is stale."""
        await self.svc.stop()
        self.svc = None

    async def answer(self) -> str:
        """The ``socket`` data of this instance's dialplan answer for a call to NUMBER."""
        xml = await self.dialplan(XmlCurlRequest.from_fields({
            "Caller-Context": "public", "Caller-Destination-Number": NUMBER, "Unique-ID": str(uuidlib.uuid4())}))
        return re.search(r'application="socket" data="([^"]+)"', xml).group(1)


@pytest.fixture
async def pair(tmp_path, store, redis):
    sim = FreeSwitchSimulator(hostname="fs1", time_scale=0.01)
    await sim.start()
    key, clock = f"test:outbound:{uuidlib.uuid4().hex}", [1000.0]
    a = Instance("a", tmp_path, store, sim, redis, key, clock)
    b = Instance("b", tmp_path, store, sim, redis, key, clock)
    await a.start()
    await b.start()
    yield sim, a, b, clock, store
    for inst in (a, b):
        if inst.svc is not None:
            await inst.svc.stop()
    await sim.stop()
    await redis.delete(key)


async def call_with(sim, socket_data: str):
    sim.dialplan[NUMBER] = [("set", "pult_pbx_id=101"), ("socket", socket_data)]
    call = await sim.place_call("79031234567", NUMBER)
    return call, await call.wait_ended(timeout=10)


async def test_a_dead_instance_is_skipped_then_named_no_more(pair):
    sim, a, b, clock, store = pair
    for inst in (a, b, a):
        await inst.instances.beat()
    assert await b.answer() == f"127.0.0.1:{b.port}|127.0.0.1:{a.port} async full"
    assert await a.answer() == f"127.0.0.1:{a.port}|127.0.0.1:{b.port} async full"
    answer_of_b = await b.answer()

    await b.die()  # right after it answered: the call it named itself first for is on its way

    call, cause = await call_with(sim, answer_of_b)
    assert [t for u, t in sim.socket_attempts if u == call.uuid] == [f"127.0.0.1:{b.port}", f"127.0.0.1:{a.port}"]
    assert cause == "NORMAL_CLEARING" and "CHANNEL_ANSWER" in call.event_names()
    assert [c.headers.get("execute-app-name") for c in sim.received_commands
            if c.origin == f"outbound:{call.uuid}" and c.verb == "sendmsg"][:2] == ["answer", "playback"]
    await a.svc.cdr.drained()
    assert await store.db["call_records"].count_documents({"uuid": call.uuid}) == 1

    # b beats no more: a still names it while its last beat is recent, never once it is stale
    clock[0] += 9
    await a.instances.beat()
    assert await a.answer() == f"127.0.0.1:{a.port}|127.0.0.1:{b.port} async full"
    clock[0] += 2
    await a.instances.beat()
    assert await a.answer() == f"127.0.0.1:{a.port} async full"
    call, cause = await call_with(sim, await a.answer())
    assert [t for u, t in sim.socket_attempts if u == call.uuid] == [f"127.0.0.1:{a.port}"]
    assert cause == "NORMAL_CLEARING"


async def test_an_instance_that_stops_cleanly_is_named_no_more_at_once(pair):
    sim, a, b, clock, store = pair
    for inst in (a, b, a):
        await inst.instances.beat()
    assert f"127.0.0.1:{b.port}" in await a.answer()
    await b.instances.leave()  # pult.cli: before its outbound server closes
    await b.svc.stop()
    b.svc = None
    await a.instances.beat()
    assert await a.answer() == f"127.0.0.1:{a.port} async full"
