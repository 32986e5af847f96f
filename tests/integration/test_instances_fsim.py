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

import pytest

from tests.fsim import FreeSwitchSimulator
from tests.integration.pult_instances import Instance, instance_pair

NUMBER = "74951234567"


@pytest.fixture
def store(embedded_store):
    return embedded_store


class MortalInstance(Instance):
    async def die(self):
        """Gone without a word (no leave): its address stays in Redis until it is stale."""
        await self.svc.stop()
        self.svc = None


@pytest.fixture
async def pair(tmp_path, store, redis):
    sim = FreeSwitchSimulator(hostname="fs1", time_scale=0.01)
    await sim.start()
    async with instance_pair(MortalInstance, tmp_path, store, sim, redis, NUMBER) as (a, b, clock):
        yield sim, a, b, clock, store
    await sim.stop()


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
