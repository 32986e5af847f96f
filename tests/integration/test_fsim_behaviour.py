"""Behaviour of the FreeSWITCH simulator that other tests rely on.

Calls placed with ``place_call`` run the outbound socket flow against a tiny
app written here with the test client; inbound clients see the call's events.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from tests.fsim import BridgeOutcome, FreeSwitchSimulator
from tests.fsim.client import EslTestClient
from tests.fsim.replay import TraceReplayServer
from tests.fsim.traces import load_trace, parse_message, traces_dir


class AppServer:
    """Plays the outbound-socket application: accepts FreeSWITCH's connections."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue[EslTestClient] = asyncio.Queue()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.closers: set[asyncio.Task] = set()

    async def __aenter__(self) -> "AppServer":
        async def on_conn(reader, writer):
            await self.sessions.put(EslTestClient(reader, writer))

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self.closers:
            task.cancel()
        self.server.close()

    async def session(self, linger: bool = True, close_after_notice: bool = True) -> EslTestClient:
        """A session as a well-behaved client runs it: with ``linger``, it closes the socket once
        the linger notice (after the call's last events) is in — the switch holds the session
        until then."""
        s = await asyncio.wait_for(self.sessions.get(), 2)
        await s.command("connect")
        await s.command("myevents")
        if linger:
            await s.command("linger")
            if close_after_notice:
                async def close_after():
                    await s.wait_for(lambda: any(m.headers.get("Content-Disposition") == "linger"
                                                 for m in s.replies), 30)
                    await s.close()
                self.closers.add(asyncio.create_task(close_after()))
        return s


async def execute(s: EslTestClient, app: str, arg: str = "") -> dict[str, str]:
    """sendmsg execute and wait for its CHANNEL_EXECUTE_COMPLETE (returns its headers)."""
    n = len(s.events)
    msg = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n" + (f"execute-app-arg: {arg}\n" if arg else "")
    reply = await s.command(msg)
    assert reply.headers["Reply-Text"] == "+OK"

    def done() -> bool:
        return any(b"CHANNEL_EXECUTE_COMPLETE" in m.raw and f"Application: {app}\n".encode() in m.raw
                   for m in s.events[n:])

    await s.wait_for(done, 3)
    ev = next(m for m in s.events[n:] if b"CHANNEL_EXECUTE_COMPLETE" in m.raw)
    return dict(parse_message(ev.raw).event)


async def test_outbound_flow_collects_digits_and_reports_billing():
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port)) as sim:
        call = await sim.place_call(caller="79161234567", destination="74951234567",
                                    variables={"pult_pbx_id": "101"})
        s = await app.session()
        data = s.replies[0]
        assert data.headers["Reply-Text"] == "%2BOK%0A" and data.headers["Socket-Mode"] == "async"
        assert data.headers["Caller-Caller-ID-Number"] == "79161234567"
        assert data.headers["variable_pult_pbx_id"] == "101"
        await execute(s, "answer")
        await call.send_dtmf("42#")
        done = await execute(s, "play_and_get_digits", "1 4 1 4000 # /snd/menu.wav silence_stream://250 choice \\d+ 2000")
        assert done["variable_read_result"] == "success"
        assert done["variable_choice"] == "42"
        assert done["variable_read_terminator_used"] == "#"
        assert (await s.command("api uuid_getvar %s choice" % call.uuid)).body == "42"
        await call.hangup("NORMAL_CLEARING")
        assert await call.wait_ended() == "NORMAL_CLEARING"
        await asyncio.wait_for(s.closed.wait(), 2)
        names = [parse_message(m.raw).event_name for m in s.events]
        assert names[-3:] == ["CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"]
        assert s.replies[-1].headers["Content-Disposition"] == "linger"
        cdr = dict(parse_message(s.events[-1].raw).event)
        assert cdr["variable_hangup_cause"] == "NORMAL_CLEARING"
        assert cdr["variable_digits_dialed"] == "42#"
        assert int(cdr["variable_answer_epoch"]) >= int(cdr["variable_start_epoch"]) > 0
        assert int(cdr["variable_billusec"]) == int(cdr["variable_end_uepoch"]) - int(cdr["variable_answer_uepoch"])
        assert cdr["variable_pult_pbx_id"] == "101"
        assert call.uuid not in sim.channels


async def test_playback_terminator_and_pagd_failure():
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port)) as sim:
        call = await sim.place_call()
        s = await app.session()
        await execute(s, "answer")
        await execute(s, "set", "playback_terminators=#")
        await call.send_dtmf("#")
        done = await execute(s, "playback", "/snd/long.wav")
        assert done["variable_playback_terminator_used"] == "#"
        assert done["Application-Response"] == "FILE PLAYED"
        done = await execute(s, "play_and_get_digits", "1 1 2 500 # silence_stream://200 silence_stream://200 c \\d 500")
        assert done["variable_read_result"] == "failure"
        assert "variable_c" not in done
        await s.command("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
        assert await call.wait_ended() == "NORMAL_CLEARING"


async def test_event_uuid_becomes_application_uuid_and_unknown_app_hangs_up():
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port)) as sim:
        call = await sim.place_call()
        s = await app.session()
        await s.command("sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: my-id-1")
        await s.wait_for(lambda: any(b"Application-UUID: my-id-1" in m.raw for m in s.events))
        await s.command("sendmsg\ncall-command: execute\nexecute-app-name: no_such_app")
        assert await call.wait_ended() == "DESTINATION_OUT_OF_ORDER"


async def test_a_lingering_session_stays_until_the_client_closes_or_its_linger_time_ends():
    """As mod_event_socket does: plain ``linger`` keeps the hung-up channel (and its row in
    ``show channels``) until the client closes the socket; ``linger N`` at most N seconds."""
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port)) as sim:
        call = await sim.place_call()
        s = await app.session(close_after_notice=False)
        await call.hangup("NORMAL_CLEARING")
        await s.wait_for(lambda: any(m.headers.get("Content-Disposition") == "linger" for m in s.replies), 2)
        assert s.replies[-1].headers["Linger-Time"] == "-1"
        await asyncio.sleep(0.5)
        assert not call.ended.done() and not s.closed.is_set()
        assert "1 total." in await sim.api("show channels count")
        await s.close()
        await call.wait_ended(2)
        assert "0 total." in await sim.api("show channels count")

        call = await sim.place_call()
        s = await asyncio.wait_for(app.sessions.get(), 2)
        await s.command("connect")
        await s.command("myevents")
        assert (await s.command("linger 1")).headers["Reply-Text"] == "+OK will linger 1 seconds"
        await call.hangup("NORMAL_CLEARING")
        await s.wait_for(lambda: any(m.headers.get("Content-Disposition") == "linger" for m in s.replies), 2)
        assert s.replies[-1].headers["Linger-Time"] == "1"
        await asyncio.wait_for(s.closed.wait(), 3)  # the switch closed it
        await call.wait_ended(1)


async def test_without_linger_the_socket_is_closed_at_hangup():
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port)) as sim:
        call = await sim.place_call()
        s = await app.session(linger=False)
        await call.hangup("USER_BUSY")
        await asyncio.wait_for(s.closed.wait(), 2)
        notice = s.replies[-1]
        assert notice.headers["Content-Type"] == "text/disconnect-notice"
        assert notice.headers["Content-Disposition"] == "disconnect"
        assert not any(b"CHANNEL_HANGUP_COMPLETE" in m.raw for m in s.events)


async def test_bridge_no_answer_then_answered():
    policy = {"sofia/gateway/gw/100": BridgeOutcome("NO_ANSWER"),
              "sofia/gateway/gw/200": BridgeOutcome(answer_after=0.5, talk_seconds=2.0)}
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port),
                                                       bridge_policy=policy.__getitem__) as sim:
        call = await sim.place_call()
        s = await app.session()
        await execute(s, "answer")
        await execute(s, "set", "call_timeout=3")
        done = await execute(s, "bridge", "sofia/gateway/gw/100")
        assert done["variable_originate_disposition"] == "NO_ANSWER"
        assert done["variable_DIALSTATUS"] == "NOANSWER"
        done = await execute(s, "bridge", "{origination_uuid=11111111-0000-0000-0000-000000000001}sofia/gateway/gw/200")
        assert done["variable_bridge_uuid"] == "11111111-0000-0000-0000-000000000001"
        assert done["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
        names = [parse_message(m.raw).event_name for m in s.events]
        assert names.index("CHANNEL_BRIDGE") < names.index("CHANNEL_UNBRIDGE")
        await call.hangup()
        await call.wait_ended()
        hc = dict(parse_message(s.events[-1].raw).event)
        assert int(hc["variable_bridge_epoch"]) > 0


async def test_record_writes_a_wav_and_reports_it(tmp_path):
    async with AppServer() as app, FreeSwitchSimulator(outbound_target=("127.0.0.1", app.port)) as sim:
        call = await sim.place_call(talk_seconds=1.0)
        s = await app.session()
        await execute(s, "answer")
        path = tmp_path / "vm.wav"
        done = await execute(s, "record", f"{path} 30 200 1")
        assert done["variable_record_ms"] == "1000"
        assert path.read_bytes()[:4] == b"RIFF" and path.stat().st_size == 44 + 16000
        await call.hangup()


async def test_inbound_json_events_filter_and_existing_call():
    async with FreeSwitchSimulator() as sim:
        old = await sim.add_existing_call(caller="79990000000", destination="100")
        client = await EslTestClient.connect(sim.host, sim.port)
        assert (await client.auth()).headers["Reply-Text"] == "+OK accepted"
        listing = json.loads(await client.api("show channels as json"))
        assert listing["row_count"] == 1 and listing["rows"][0]["uuid"] == old.uuid
        assert (await client.command("event json ALL")).headers["Reply-Text"] == "+OK event listener enabled json"
        reply = await client.command(f"filter Unique-ID {old.uuid}")
        assert reply.headers["Reply-Text"] == f"+OK filter added. [Unique-ID]=[{old.uuid}]"
        other = await sim.add_existing_call(caller="79990000001", destination="101")
        assert await client.api(f"uuid_kill {old.uuid}") == "+OK\n"
        await old.wait_ended()
        await client.wait_for(lambda: any(b"CHANNEL_DESTROY" in m.raw for m in client.events))
        bodies = [json.loads(m.body) for m in client.events]
        assert {b["Unique-ID"] for b in bodies} == {old.uuid}
        assert [b["Event-Name"] for b in bodies][-2:] == ["CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]
        assert await client.api("uuid_kill 00000000-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
        assert (await client.api("show calls count")).strip() == "1 total."
        await other.hangup()


async def test_drop_clients_and_restart_on_same_port():
    sim = FreeSwitchSimulator()
    await sim.start()
    port = sim.port
    client = await EslTestClient.connect(sim.host, port)
    await client.auth()
    await sim.drop_clients()
    await asyncio.wait_for(client.closed.wait(), 2)
    await sim.stop()
    with pytest.raises(OSError):
        await asyncio.open_connection(sim.host, port)
    await sim.start(port=port)
    try:
        again = await EslTestClient.connect(sim.host, port)
        assert (await again.auth()).headers["Reply-Text"] == "+OK accepted"
        n = len(again.events)
        await again.command("event plain BACKGROUND_JOB")
        reply = await again.command("bgapi uptime\nJob-UUID: 12345678-0000-0000-0000-000000000000")
        assert reply.headers["Job-UUID"] == "12345678-0000-0000-0000-000000000000"
        await again.wait_for(lambda: len(again.events) > n)
        assert "Job-Command: uptime" in again.events[-1].body
        bye = await again.command("exit")
        assert bye.headers["Reply-Text"] == "+OK bye"
        await asyncio.wait_for(again.closed.wait(), 2)
        assert again.messages[-1].headers["Content-Type"] == "text/disconnect-notice"
        assert [c.verb for c in sim.received_commands] == ["auth", "auth", "event", "bgapi", "exit"]
    finally:
        await sim.stop()


async def test_uuid_transfer_moves_the_call_to_another_extension():
    async with FreeSwitchSimulator(dialplan={"200": [("answer", ""), ("park", "")]}) as sim:
        call = await sim.add_existing_call(destination="100")
        assert await sim.api(f"uuid_transfer {call.uuid} -both 200 XML default") == "+OK\n"
        await call.wait_for_event("CHANNEL_EXECUTE", predicate=lambda e: e.get("Application") == "park"
                                  and e.get("Caller-Destination-Number") == "200")
        await call.hangup()
        await call.wait_ended()


@pytest.mark.skipif(not traces_dir().is_dir(), reason="FreeSWITCH traces not available")
async def test_replay_inbound_trace_is_byte_exact_and_records_the_client():
    trace = load_trace("inbound_basic")
    async with TraceReplayServer(trace) as replay:
        client = await EslTestClient.connect(replay.host, replay.port)
        for frame in trace.sends:
            await client.send_raw(frame.data)
        await asyncio.wait_for(client.closed.wait(), 2)
        assert b"".join(m.raw for m in client.messages) == "".join(f.data for f in trace.recvs).encode()
        assert replay.mismatches == [] and replay.unmatched_sends() == []
        assert [c.line for c in replay.received] == [f.data.split("\n")[0] for f in trace.sends]


@pytest.mark.skipif(not traces_dir().is_dir(), reason="FreeSWITCH traces not available")
async def test_replay_reports_a_wrong_command_and_serves_outbound_traces():
    async with TraceReplayServer("inbound_auth_fail") as replay:
        client = await EslTestClient.connect(replay.host, replay.port)
        await client.send_raw("api status\n\n")
        await client.wait_for(lambda: bool(replay.mismatches))
        assert replay.mismatches[0].expected == "auth wrong-password"
        await client.close()
    async with AppServer() as app:
        replay = TraceReplayServer("outbound_socket")
        await replay.connect_to("127.0.0.1", app.port)
        s = await asyncio.wait_for(app.sessions.get(), 2)
        reply = await s.command("connect")
        assert reply.headers["Event-Name"] == "CHANNEL_DATA"
        assert (await s.command("myevents")).headers["Reply-Text"] == "+OK Events Enabled"
        await replay.stop()


async def test_cli_runs_and_stops_cleanly():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fsim", "--port", "0", "--time-scale", "0.01",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert b"listening on 127.0.0.1:" in line
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0


async def test_fax_arrives_as_a_copy_and_a_missing_file_fails(tmp_path):
    from tests.fsim.fax import write_blank_tiff

    (tmp_path / "spool").mkdir()
    write_blank_tiff(tmp_path / "fax.tif", pages=2)
    async with FreeSwitchSimulator(time_scale=0.001, path_map={"/srv/fs-01/": f"{tmp_path}/"}) as sim:
        out = await sim.api("originate {fax_ident=111}loopback/9178/default &txfax(/srv/fs-01/fax.tif)")
        tx = sim.channels[out.split()[1]]
        await asyncio.wait_for(asyncio.shield(tx.ended), 3)
        results = {e.subclass: e for e in sim.events if (e.subclass or "").endswith("faxresult")}
        assert results["spandsp::rxfaxresult"].get("fax-success") == "1"
        assert results["spandsp::txfaxresult"].get("fax-document-transferred-pages") == "2"
        [received] = (tmp_path / "spool").glob("rx-*.tif")
        assert received.read_bytes() == (tmp_path / "fax.tif").read_bytes()

        out = await sim.api("originate loopback/9178/default &txfax(/srv/fs-01/missing.tif)")
        tx = sim.channels[out.split()[1]]
        result = await _wait_subclass(sim, "spandsp::txfaxresult", tx.uuid)
        assert (result.get("fax-success"), result.get("fax-result-code"), result.get("fax-result-text")) == \
            ("0", "41", "TIFF/F file cannot be opened")


async def _wait_subclass(sim, subclass, uuid, timeout=3.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for e in sim.events:
            if e.subclass == subclass and e.get("Unique-ID") == uuid:
                return e
        await asyncio.sleep(0.005)
    raise AssertionError(f"no {subclass} for {uuid}")
