"""Replay tests: the recorded FreeSWITCH side of the real traces, served to Pult's ESL client.

A tiny replay peer plays FreeSWITCH's frames of a trace byte for byte and, at each frame the real
client sent, reads one command from our client and checks it is the same command. IDs our client
chooses itself (the ``Job-UUID`` of a ``bgapi``, the ``Event-UUID`` of an ``execute``) are mapped
onto the trace's, in the frames that follow — same length, so every Content-Length still holds.
"""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from esl_control.cdr import record_from_event
from esl_control.outbound_server import Call, OutboundServer
from esl_control.transport import (CallGone, EslAuthError, EslCommandError, EslConnection,
                                   EslEvent, EslNotConnected, GeventThread)

TRACES = Path("/work/shared/freeswitch/traces")
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

pytestmark = pytest.mark.skipif(not TRACES.is_dir(), reason="FreeSWITCH traces not available")


def load_trace(name: str) -> list[dict]:
    lines = (TRACES / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


def parse_command(text: str) -> tuple[str, dict[str, str]]:
    first, *rest = text.rstrip("\n").split("\n")
    headers = dict(line.split(": ", 1) for line in rest if line)
    return first, headers


async def read_command(reader: asyncio.StreamReader) -> str:
    return (await reader.readuntil(b"\n\n")).decode()


class Replay:
    """Plays FreeSWITCH's side of ``frames`` on one connection; records what the client sent."""

    IGNORED = {"Event-UUID", "event-lock", "Job-UUID"}

    def __init__(self, frames: list[dict], extra: dict[str, str] | None = None) -> None:
        self.frames = frames
        self.extra = extra or {}  # commands our client sends that this trace lacks -> canned reply
        self.received: list[str] = []
        self.mismatch: str | None = None
        self.done = asyncio.Event()
        self.mapping: dict[str, str] = {}

    def _map(self, data: str) -> str:
        for trace_id, ours in self.mapping.items():
            data = data.replace(trace_id, ours)
        return data

    def _learn_ids(self, index: int, expected: str, got: str) -> None:
        exp_first, exp_headers = parse_command(expected)
        got_first, got_headers = parse_command(got)
        for key in ("Job-UUID", "Event-UUID"):
            ours = got_headers.get(key)
            if not ours:
                continue
            trace_id = exp_headers.get(key)
            if trace_id is None:  # find the id FreeSWITCH chose in the frames that follow
                pattern = {"Job-UUID": r"Job-UUID: (" + UUID_RE + ")",
                           "Event-UUID": r"Application-UUID: (" + UUID_RE + ")"}[key]
                for frame in self.frames[index + 1:]:
                    m = re.search(pattern, frame["data"])
                    if frame["dir"] == "recv" and m:
                        trace_id = m.group(1)
                        break
            if trace_id:
                self.mapping[trace_id] = ours

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for index, frame in enumerate(self.frames):
                if frame["dir"] == "recv":
                    writer.write(self._map(frame["data"]).encode())
                    await writer.drain()
                    continue
                got = await asyncio.wait_for(read_command(reader), 5)
                self.received.append(got)
                while got.rstrip("\n") in self.extra and got != frame["data"]:
                    writer.write(self.extra[got.rstrip("\n")].encode())
                    got = await asyncio.wait_for(read_command(reader), 5)
                    self.received.append(got)
                exp_first, exp_headers = parse_command(frame["data"])
                got_first, got_headers = parse_command(got)
                strip = lambda h: {k: v for k, v in h.items() if k not in self.IGNORED}  # noqa: E731
                if (exp_first, strip(exp_headers)) != (got_first, strip(got_headers)):
                    self.mismatch = f"frame {index}: expected {frame['data']!r}, got {got!r}"
                    break
                self._learn_ids(index, frame["data"], got)
            await asyncio.sleep(0.05)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as exc:
            self.mismatch = self.mismatch or f"client went away: {exc!r}"
        finally:
            writer.close()
            self.done.set()


@pytest.fixture
async def hub():
    thread = GeventThread()
    thread.start()
    yield thread
    await thread.stop()


async def serve_trace(name: str, frames: list[dict] | None = None):
    replay = Replay(frames if frames is not None else load_trace(name))
    server = await asyncio.start_server(replay.serve, "127.0.0.1", 0)
    return replay, server, server.sockets[0].getsockname()[1]


async def test_auth_ok_api_replies_and_exit(hub):
    replay, server, port = await serve_trace("inbound_basic")
    async with server:
        conn = EslConnection(hub, "fs1", "127.0.0.1", port, "ClueCon")
        await conn.open()
        version = await conn.api("version")
        assert version.startswith("FreeSWITCH Version 1.10.12-release")
        status = await conn.api("status")
        assert status.startswith("UP 0 years, 0 days, 0 hours, 0 minutes, 33 seconds")
        assert "2000 session(s) max" in status
        assert await conn.api("show calls as json") == '{"row_count": 0}\n'
        assert (await conn.api("no_such_command")).startswith("-ERR no_such_command Command not found!")
        assert await conn.api("uuid_kill 00000000-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
        assert await conn.subscribe(["BACKGROUND_JOB"]) == "+OK event listener enabled plain"

        job = await conn.bgapi("status")
        assert job.ok and job.output.startswith("UP 0 years") and job.output.endswith("240K/8192K\n")
        assert job.event["Job-Command"] == "status"

        failed = await conn.bgapi("originate loopback/no_such_ext/default &park()")
        assert not failed.ok and failed.output == "-ERR NO_ROUTE_DESTINATION\n"
        assert failed.event["Job-Command-Arg"] == "loopback/no_such_ext/default &park()"  # decoded

        third = await conn.bgapi("status")
        assert "2 session(s) since startup" in third.output

        disconnects: list[EslEvent] = []
        conn.on("DISCONNECT", disconnects.append)
        await conn.close()
        await asyncio.wait_for(replay.done.wait(), 5)
        assert replay.mismatch is None, replay.mismatch
        assert await conn.closed == "closed by Pult"
        assert replay.received[0] == "auth ClueCon\n\n"
        assert replay.received[-1] == "exit\n\n"
        # the three bgapi carried the Job-UUIDs our client chose
        assert len([c for c in replay.received if c.startswith("bgapi") and "Job-UUID: " in c]) == 3
        # the goodbye is delivered as an event before the socket closed
        assert disconnects and "See you at ClueCon" in disconnects[0].body
        with pytest.raises(EslNotConnected):
            await conn.api("status")


async def test_wrong_password_is_an_auth_error(hub):
    replay, server, port = await serve_trace("inbound_auth_fail")
    async with server:
        conn = EslConnection(hub, "fs-east", "127.0.0.1", port, "wrong-password")
        with pytest.raises(EslAuthError, match="authentication failed for node fs-east"):
            await conn.open()
        await asyncio.wait_for(replay.done.wait(), 5)
        assert replay.mismatch is None, replay.mismatch
        assert conn.closed.done()


async def test_plain_call_events_are_parsed_and_url_decoded(hub):
    frames = load_trace("inbound_call_events_plain")
    replay, server, port = await serve_trace("inbound_call_events_plain", frames)
    async with server:
        conn = EslConnection(hub, "fs1", "127.0.0.1", port, "ClueCon")
        events: list[EslEvent] = []
        conn.on("*", events.append)
        await conn.open()
        sent = [parse_command(f["data"])[0] for f in frames if f["dir"] == "send"]
        assert sent[1].startswith("event plain CHANNEL_CREATE") and sent[2].startswith("bgapi ")
        await conn.send(sent[1])
        job = await conn.bgapi(sent[2].removeprefix("bgapi "))
        assert job.output == "+OK 11111111-2222-3333-4444-555500000001\n"
        for first in sent:
            if first.startswith("api "):
                assert (await conn.api(first.removeprefix("api "))).startswith("+OK")
        await conn.close()
        await asyncio.wait_for(replay.done.wait(), 5)
        assert replay.mismatch is None, replay.mismatch

    expected_names = [re.search(r"Event-Name: (\w+)", f["data"]).group(1) for f in frames
                      if f["dir"] == "recv" and "text/event-plain" in f["data"]]
    assert [e.name for e in events] == expected_names
    create = events[0]
    assert create.name == "CHANNEL_CREATE"
    assert create["FreeSWITCH-IPv6"] == "fd00::2"
    assert create["Event-Date-Local"].count(" ") == 1 and "%" not in create["Event-Date-Local"]
    complete = [e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert [e.uuid for e in complete] == ["11111111-2222-3333-4444-555500000001",
                                          "5c100591-6c33-4ca9-99a1-029f59cbe4a9"]
    assert complete[0]["variable_pult_pbx_id"] == "1001"
    assert complete[0]["variable_caller_id"] == '"Outbound Call" <default>'
    assert complete[0]["variable_billsec"] == "17"
    assert all(e.body == "" for e in events if e.name != "BACKGROUND_JOB")


async def test_command_errors_are_raised_for_send(hub):
    frames = [
        {"dir": "recv", "data": "Content-Type: auth/request\n\n"},
        {"dir": "send", "data": "auth ClueCon\n\n"},
        {"dir": "recv", "data": "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"},
        {"dir": "send", "data": "filter Unique-ID nope\n\n"},
        {"dir": "recv", "data": "Content-Type: command/reply\nReply-Text: -ERR invalid filter\n\n"},
    ]
    replay, server, port = await serve_trace("", frames)
    async with server:
        conn = EslConnection(hub, "fs1", "127.0.0.1", port, "ClueCon")
        await conn.open()
        with pytest.raises(EslCommandError, match="-ERR invalid filter"):
            await conn.send("filter Unique-ID nope")
        # the replay now closes the socket: pending and later commands fail, closed resolves
        reason = await asyncio.wait_for(conn.closed, 5)
        assert reason == "connection closed by FreeSWITCH"
        with pytest.raises(EslNotConnected):
            await conn.api("status")
        with pytest.raises(ValueError, match="one line"):
            await conn.api("status\n\napi evil")


# ------------------------------------------------------------------------------ outbound socket
def bounded_linger(frames: list[dict], seconds: int) -> list[dict]:
    """The traces were recorded with a plain ``linger`` (until the client closes: the switch held
    the dead session for as long); Pult sends ``linger N``. The switch's answers to that, from
    mod_event_socket.c: ``+OK will linger N seconds`` and ``Linger-Time: N`` in the notice."""
    out = []
    for frame in frames:
        data = frame["data"]
        if frame["dir"] == "send" and data == "linger\n\n":
            data = f"linger {seconds}\n\n"
        elif frame["dir"] == "recv":
            data = data.replace("Reply-Text: +OK will linger\n", f"Reply-Text: +OK will linger {seconds} seconds\n")
            data = data.replace("Linger-Time: -1\n", f"Linger-Time: {seconds}\n")
        out.append({**frame, "data": data})
    return out


async def run_outbound(hub, trace: str, flow, extra: dict[str, str] | None = None):
    """Our outbound server, and the trace's FreeSWITCH connecting to it."""
    server = OutboundServer(hub, flow, host="127.0.0.1", port=0)
    seen: list[tuple[str, EslEvent]] = []
    server.on_event("*", lambda node, ev: seen.append((node, ev)))
    await server.start()
    replay = Replay(bounded_linger(load_trace(trace), server.linger_seconds), extra)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.wait_for(replay.serve(reader, writer), 10)
        for _ in range(200):  # the call is forgotten once its socket closed
            if not server.calls:
                break
            await asyncio.sleep(0.01)
    finally:
        await server.stop()
    return replay, seen, server


async def test_outbound_connect_myevents_linger_and_a_flow(hub):
    calls: list[Call] = []
    out: dict = {}

    class TraceFlow:
        async def run(self, call: Call) -> None:
            calls.append(call)
            out["answer"] = await call.execute("answer")
            await call.set("pult_flow", "menu-1")
            out["played"] = await call.playback("/srv/fs-01/sounds/hello.wav")
            out["pagd"] = await call.execute(
                "play_and_get_digits",
                r"1 4 1 4000 # /srv/fs-01/sounds/hello.wav silence_stream://250 pult_digits \d+ 2000")
            out["digits"] = await call.getvar("pult_digits")
            await call.hangup("NORMAL_CLEARING")
            out["closed"] = await call.closed

    replay, seen, server = await run_outbound(hub, "outbound_socket", TraceFlow())
    assert replay.mismatch is None, replay.mismatch
    call = calls[0]
    assert call.uuid == "8f0e1cd3-abb5-4f6f-8cf9-e2c1f1c2bf3b"
    assert call.caller == "74951234567" and call.destination == "9000"
    assert call.channel_data["variable_current_application_data"] == "127.0.0.1:8084 async full"
    assert call.channel_data["Socket-Mode"] == "async"
    assert out["answer"]["Application"] == "answer"
    assert out["played"]["Application-Response"] == "FILE PLAYED"
    assert out["pagd"]["variable_read_result"] == "success"
    assert out["digits"] == "42"
    assert [call.dtmf.get_nowait() for _ in range(call.dtmf.qsize())] == ["4", "2", "#"]
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert out["closed"] == "connection closed by FreeSWITCH"
    # the commands on the wire were those of the working recorded client
    assert [c.split("\n")[0] for c in replay.received[:4]] == ["connect", "myevents", "linger 10",
                                                              "event plain DTMF CHANNEL_EXECUTE_COMPLETE"]
    # CHANNEL_HANGUP_COMPLETE (after hangup, thanks to linger) reached the server's listeners
    hangups = [ev for node, ev in seen if ev.name == "CHANNEL_HANGUP_COMPLETE"]
    assert len(hangups) == 1
    record = record_from_event(hangups[0], "fs1")
    assert record["uuid"] == call.uuid and record["billsec"] == 3 and record["duration"] == 3
    assert record["caller"] == "74951234567" and record["callee"] == "9000"
    assert record["hangup_cause"] == "NORMAL_CLEARING"
    assert record["start"].isoformat() == "2026-11-22T03:10:29.084063+00:00"
    assert record["answer"].isoformat() == "2026-11-22T03:10:29.104007+00:00"
    assert record["end"].isoformat() == "2026-11-22T03:10:32.284041+00:00"
    assert record["vars"]["pult_flow"] == "menu-1"
    assert record["vars"]["hangup_cause_q850"] == "16"
    assert [ev.name for node, ev in seen][-1] == "DISCONNECT"
    assert not server.calls


async def test_outbound_caller_hangs_up_during_playback(hub):
    out: dict = {}

    class LongFlow:
        async def run(self, call: Call) -> None:
            await call.execute("answer")
            await call.set("playback_terminators", "#")
            out["cut"] = await call.playback("tone_stream://%(1000,0,440);loops=20")
            out["digit"] = await call.next_dtmf(timeout=1)
            out["menu"] = await call.execute(
                "play_and_get_digits",
                r"1 1 1 2000 # silence_stream://200 silence_stream://200 pult_choice \d 1000")
            for name, value in (("call_timeout", "3"), ("continue_on_fail", "true"),
                                ("hangup_after_bridge", "false")):
                await call.set(name, value)
            out["no_answer"] = await call.execute(
                "bridge", "{origination_uuid=66666666-0000-0000-0000-0000000000b1}loopback/9197/default")
            out["bridged"] = await call.execute(
                "bridge", "{origination_uuid=66666666-0000-0000-0000-0000000000b2}loopback/9196/default")
            await call.execute("record", "/srv/fs-01/rec/vm-66666666.wav 2 200 1")
            out["last"] = await call.playback("tone_stream://%(1000,0,440);loops=30")
            out["hungup"] = call.hungup.is_set()
            with pytest.raises(CallGone):
                await call.execute("playback", "ivr/more.wav")
            await call.hangup()  # already down: nothing is sent

    extra = {"event plain DTMF CHANNEL_EXECUTE_COMPLETE":
             "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"}
    replay, seen, server = await run_outbound(hub, "outbound_socket_flow", LongFlow(), extra)
    assert replay.mismatch is None, replay.mismatch
    assert out["cut"]["variable_playback_terminator_used"] == "#"
    assert out["digit"] == "#"
    assert out["menu"]["variable_read_result"] == "failure"
    assert out["no_answer"]["variable_originate_disposition"] == "NO_ANSWER"
    assert out["bridged"]["variable_originate_disposition"] == "SUCCESS"
    assert out["last"]["Application-Response"] == "PLAYBACK ERROR"
    assert out["hungup"] is True
    assert not any(c.startswith("sendmsg\ncall-command: hangup") for c in replay.received)
    assert sum(ev.name == "CHANNEL_HANGUP_COMPLETE" for _, ev in seen) == 1


async def test_outbound_rejects_protocol_injection(hub):
    class BadFlow:
        async def run(self, call: Call) -> None:
            with pytest.raises(ValueError, match="bad ESL header"):
                await call.execute("playback", "a.wav\n\napi evil")
            with pytest.raises(ValueError, match="hang-up cause"):
                await call.hangup("NORMAL_CLEARING\nx")
            with pytest.raises(ValueError, match="application name"):
                await call.execute("play back")
            raise CallGone("stop here")

    frames = load_trace("outbound_socket")[:8]  # connect .. event plain, then the socket closes
    server = OutboundServer(hub, BadFlow(), host="127.0.0.1", port=0)
    replay = Replay(bounded_linger(frames, server.linger_seconds))
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.wait_for(replay.serve(reader, writer), 10)
    finally:
        await server.stop()
    assert replay.mismatch is None, replay.mismatch
