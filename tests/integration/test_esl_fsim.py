"""The ESL service against the FreeSWITCH simulator (tests/fsim): nodes, calls, call records.

Everything is real but FreeSWITCH: the gevent thread with greenswitch, the asyncio bridge, the
embedded store in a temporary data directory. Loopback addresses and free ports only.
"""
from __future__ import annotations

import asyncio
import functools
import socket
import threading

import pytest

from esl_control.nodes import NodeState
from esl_control.service import EslService
from esl_control.transport.errors import EslNotConnected
from tests.fsim import FreeSwitchSimulator
from pult.observability import ESL_NODE_UP
from pult.settings import load_settings
from tests.integration.harness import wait_for


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def store(embedded_store):
    return embedded_store


@pytest.fixture
async def sim():
    simulator = FreeSwitchSimulator(hostname="fsim-1")
    await simulator.start()
    yield simulator
    await simulator.stop()


def esl_settings(tmp_path, nodes: str):
    return load_settings(data_dir=tmp_path / "data", esl_nodes=nodes, esl_reconnect_min=0.05,
                         esl_reconnect_max=0.3, outbound_host="127.0.0.1", outbound_port=0,
                         esl_command_timeout=5)


async def records(store, uuid: str) -> list[dict]:
    return await store.db["call_records"].find({"uuid": uuid}).to_list(None)


#: what the switch simulator does shows up within milliseconds
wait_until = functools.partial(wait_for, timeout=5.0, every=0.02)


@pytest.fixture
async def service(tmp_path, sim, store):
    svc = EslService(esl_settings(tmp_path, f"fs1=127.0.0.1:{sim.port}:ClueCon"), store)
    states: list[tuple[str, str]] = []
    await svc.start()
    svc.nodes.on_state_change(lambda snap: states.append((snap["name"], snap["state"])))
    svc.states = states
    sim.outbound_target = ("127.0.0.1", svc.outbound.port)
    yield svc
    threads_before = {t for t in threading.enumerate() if t.name == "pult-esl-gevent"}
    await svc.stop()
    assert threads_before and not any(t.is_alive() for t in threads_before), "gevent thread left running"


async def test_node_up_with_status_in_snapshot(service):
    status = await service.nodes.wait_for_state("fs1", NodeState.UP)
    snap = service.nodes.snapshot()[0]
    assert snap["name"] == "fs1" and snap["state"] == "up" and snap["last_error"] is None
    assert snap["fs_version"] == "1.10.12-release"
    assert snap["fs_uptime_s"] is not None and snap["fs_uptime_s"] >= 0
    assert snap["reconnects"] == 0
    assert status.connected_at is not None
    assert ESL_NODE_UP.labels("fs1")._value.get() == 1
    assert "1.10.12" in await service.nodes.api("fs1", "version")


async def test_node_down_and_back_is_reported_and_resumed(service, sim, store):
    await service.nodes.wait_for_state("fs1", NodeState.UP)
    port = sim.port
    await sim.stop()
    down = await service.nodes.wait_for_state("fs1", NodeState.DOWN)
    assert down.last_error and ("connection lost" in down.last_error or "refused" in down.last_error)
    assert ESL_NODE_UP.labels("fs1")._value.get() == 0
    await sim.start(port)
    up = await service.nodes.wait_for_state("fs1", NodeState.UP, timeout=5)
    assert up.reconnects >= 1 and up.last_error is None
    assert ("fs1", "down") in service.states and service.states[-1] == ("fs1", "up")
    # subscriptions restored: a call that ends after the comeback is recorded from the inbound side
    sim.outbound_target = None
    call = await sim.place_call("79161230000", "9196")
    await call.wait_answered()
    await call.hangup()
    await call.wait_ended()
    await wait_until(lambda: _has_record(store, call.uuid), what="call record after reconnect")


async def _has_record(store, uuid: str) -> bool:
    return bool(await records(store, uuid))


async def test_wrong_password_reports_auth_failed(tmp_path, sim, store):
    svc = EslService(esl_settings(tmp_path, f"east=127.0.0.1:{sim.port}:not-the-password"), store)
    await svc.start()
    try:
        status = await svc.nodes.wait_for_state("east", NodeState.AUTH_FAILED)
        assert "authentication failed for node east" in status.last_error
        snap = svc.nodes.snapshot()[0]
        assert snap["state"] == "auth_failed"
    finally:
        await svc.stop()


async def test_a_hung_node_is_shown_down_within_seconds_and_comes_back_by_itself(tmp_path, sim, store):
    """A stopped switch (kill -STOP) keeps its socket open: only an unanswered heartbeat tells."""
    settings = esl_settings(tmp_path, f"fs1=127.0.0.1:{sim.port}:ClueCon").model_copy(
        update={"esl_heartbeat_interval": 0.2, "esl_heartbeat_timeout": 0.5})
    svc = EslService(settings, store)
    snaps: list[dict] = []
    await svc.start()
    svc.nodes.on_state_change(snaps.append)
    try:
        await svc.nodes.wait_for_state("fs1", NodeState.UP)
        sim.hang()
        loop = asyncio.get_running_loop()
        hung_at = loop.time()
        await svc.nodes.wait_for_state("fs1", NodeState.DOWN, NodeState.CONNECTING, timeout=5)
        assert loop.time() - hung_at < 2.0
        down = [s for s in snaps if s["state"] == "down"]
        assert down and "not answering" in down[0]["last_error"], snaps
        assert svc.nodes.up_nodes() == []  # no new work goes there
        with pytest.raises(EslNotConnected):
            await svc.nodes.api("fs1", "status")
        sim.wake()
        await svc.nodes.wait_for_state("fs1", NodeState.UP, timeout=10)
        assert "UP" in await svc.nodes.api("fs1", "status")
    finally:
        sim.wake()
        await svc.stop()


async def test_unreachable_node_is_down_with_the_error_and_retried(tmp_path, store):
    port = free_port()
    svc = EslService(esl_settings(tmp_path, f"gone=127.0.0.1:{port}"), store, outbound=False)
    await svc.start()
    try:
        status = await svc.nodes.wait_for_state("gone", NodeState.DOWN)
        assert "refused" in status.last_error.lower()
        await wait_until(lambda: _async(svc.nodes.status("gone").reconnects >= 2), what="retries")
        # the node appears: it is picked up without a restart
        sim = FreeSwitchSimulator()
        await sim.start(port)
        try:
            await svc.nodes.wait_for_state("gone", NodeState.UP, timeout=5)
        finally:
            await sim.stop()
    finally:
        await svc.stop()


async def _async(value):
    return value


async def test_call_through_outbound_server_answered_played_hung_up_and_recorded_once(service, sim, store):
    await service.nodes.wait_for_state("fs1", NodeState.UP)
    call = await sim.place_call("79161234567", "74951234567", {"pult_pbx_id": "1001"})
    cause = await call.wait_ended(timeout=10)
    assert cause == "NORMAL_CLEARING"
    names = call.event_names()
    assert "CHANNEL_ANSWER" in names and "CHANNEL_HANGUP_COMPLETE" in names
    sent = [c for c in sim.received_commands if c.origin == f"outbound:{call.uuid}"]
    verbs = [c.line for c in sent]
    # a bounded linger: a plain "linger" would hold the switch's session until Pult closes
    assert verbs[:4] == ["connect", "myevents", "linger 10", "event plain DTMF CHANNEL_EXECUTE_COMPLETE"]
    apps = [c.headers.get("execute-app-name") or c.headers.get("call-command") for c in sent
            if c.verb == "sendmsg"]
    assert apps == ["answer", "playback", "hangup"]
    await wait_until(lambda: _has_record(store, call.uuid), what="call record")
    await service.cdr.drained()
    await asyncio.sleep(0.2)  # let the second copy (inbound vs lingering socket) arrive too
    await service.cdr.drained()
    docs = await records(store, call.uuid)
    assert len(docs) == 1
    rec = docs[0]
    assert rec["caller"] == "79161234567" and rec["callee"] == "74951234567"
    assert rec["pbx_id"] == 1001 and rec["node"] == "fs1"
    assert rec["hangup_cause"] == "NORMAL_CLEARING"
    assert rec["answer"] is not None and rec["end"] >= rec["start"]
    assert service.cdr.duplicates >= 1  # it did arrive twice, and was stored once
    await wait_until(lambda: _async(not service.outbound.calls), what="call forgotten")


async def test_the_switch_session_is_released_as_soon_as_the_final_event_is_in(service, sim):
    """The switch keeps a lingering call's session (a row in ``show channels``, counted against
    max-sessions) until the socket closes: Pult closes it once CHANNEL_HANGUP_COMPLETE is in."""
    await service.nodes.wait_for_state("fs1", NodeState.UP)
    call = await sim.place_call("79161234567", "74951234567", {"pult_pbx_id": "1001"})
    await wait_until(lambda: _async(call.uuid in service.outbound.calls), what="call handed to Pult")
    loop = asyncio.get_running_loop()
    await wait_until(lambda: _async(call.channel.hungup), what="call hung up by the flow")
    hung_up_at = loop.time()
    await call.wait_ended(timeout=5)
    assert loop.time() - hung_up_at < 2.0
    assert call.uuid not in sim.channels
    assert "0 total." in await sim.api("show channels count")


async def test_calls_lost_with_a_crashed_node_are_closed_at_reconnect_once(service, sim, store):
    """A node that dies mid-call sends no hang-up: at reconnect (a new Core-UUID) Pult closes the
    calls it knew with the cause NODE_LOST, once; a call still up there is left alone."""
    await service.nodes.wait_for_state("fs1", NodeState.UP)
    sim.outbound_target = None
    call = await sim.add_existing_call("79160000011", "74950000012", {"pult_pbx_id": "7"})
    await wait_until(lambda: _async(service.nodes.status("fs1").calls_in_progress >= 1), what="call counted")
    await sim.crash_and_restart()
    await service.nodes.wait_for_state("fs1", NodeState.DOWN, NodeState.CONNECTING)
    await service.nodes.wait_for_state("fs1", NodeState.UP, timeout=5)
    await wait_until(lambda: _has_record(store, call.uuid), what="the lost call's record")
    docs = await records(store, call.uuid)
    assert len(docs) == 1
    rec = docs[0]
    assert rec["hangup_cause"] == "NODE_LOST" and rec["node"] == "fs1"
    assert rec["caller"] == "79160000011" and rec["callee"] == "74950000012"
    assert rec["start"] is not None and rec["end"] >= rec["start"]
    # another drop without a restart: nothing more is closed
    await sim.drop_clients()
    await service.nodes.wait_for_state("fs1", NodeState.UP, timeout=5)
    await asyncio.sleep(0.3)
    assert len(await records(store, call.uuid)) == 1


async def test_call_in_progress_across_reconnect_is_recorded_once(service, sim, store):
    await service.nodes.wait_for_state("fs1", NodeState.UP)
    sim.outbound_target = None
    call = await sim.add_existing_call("79160000001", "74950000002", {"pult_pbx_id": "7"})
    await wait_until(lambda: _async(service.nodes.status("fs1").calls_in_progress >= 1),
                     what="call counted")
    await sim.drop_clients()
    await service.nodes.wait_for_state("fs1", NodeState.DOWN, NodeState.CONNECTING)
    await service.nodes.wait_for_state("fs1", NodeState.UP, timeout=5)
    assert service.nodes.status("fs1").calls_in_progress == 1  # re-listed after reconnect
    await call.hangup()
    await call.wait_ended()
    await wait_until(lambda: _has_record(store, call.uuid), what="record of the call in progress")
    docs = await records(store, call.uuid)
    assert len(docs) == 1 and docs[0]["pbx_id"] == 7 and docs[0]["billsec"] >= 0
    await wait_until(lambda: _async(service.nodes.status("fs1").calls_in_progress == 0),
                     what="call no longer counted")


async def test_bgapi_through_the_node_manager(service):
    await service.nodes.wait_for_state("fs1", NodeState.UP)
    jobs = await asyncio.gather(*(service.nodes.bgapi("fs1", "status") for _ in range(5)))
    assert len({job.job_uuid for job in jobs}) == 5
    assert all(job.ok and job.output.startswith("UP ") for job in jobs)
    failed = await service.nodes.bgapi("fs1", "originate loopback/no_such_ext/default &park()")
    assert not failed.ok and failed.output.startswith("-ERR")
