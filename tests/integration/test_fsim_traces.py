"""Conformance of the FreeSWITCH simulator with the recorded real traces.

Each test sends the simulator the same commands the trace's ``send`` frames
show and compares what comes back with the recorded ``recv`` frames: framing,
message headers, Content-Type, Reply-Text, event names and order, event header
names and order, and every value that is not machine-specific (see
tests/fsim/traces.py). Replies and events are compared as two ordered streams,
because FreeSWITCH delivers events from another thread and their interleaving
with replies is not deterministic. Known differences are listed in
tests/fsim/README.md and in ``ALLOWED`` below.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.fsim import FreeSwitchSimulator
from tests.fsim.server import DEFAULT_DIALPLAN
from tests.fsim.client import EslTestClient
from tests.fsim.traces import compare_message, load_trace, normalize, parse_message, traces_dir

pytestmark = pytest.mark.skipif(not traces_dir().is_dir(), reason="FreeSWITCH traces not available")

HELLO = "/srv/fs-01/sounds/hello.wav"


def _is_event(data: str) -> bool:
    head = data.split("\n\n", 1)[0]
    return "Content-Type: text/event-" in head


def _split(frames: list[str]) -> tuple[list[str], list[str]]:
    replies = [f for f in frames if not _is_event(f)]
    events = [f for f in frames if _is_event(f)]
    return replies, events


def _assert_same(recorded: list[str], actual: list[bytes], what: str, allowed: tuple[str, ...] = ()) -> None:
    names_rec = [parse_message(f).event_name or parse_message(f).content_type for f in recorded]
    names_act = [parse_message(f).event_name or parse_message(f).content_type for f in actual]
    assert names_act == names_rec, f"{what}: sequence differs"
    diffs = []
    for rec, act in zip(recorded, actual):
        diffs += [d for d in compare_message(rec, act) if not any(re.search(a, d) for a in allowed)]
    assert not diffs, f"{what}:\n" + "\n".join(diffs)


async def test_auth_fail_is_byte_exact():
    trace = load_trace("inbound_auth_fail")
    async with FreeSwitchSimulator() as sim:
        client = await EslTestClient.connect(sim.host, sim.port)
        await client.wait_for(lambda: len(client.messages) == 1)
        await client.send_raw(trace.sends[0].data)
        await asyncio.wait_for(client.closed.wait(), 2)
        assert b"".join(m.raw for m in client.messages) == "".join(f.data for f in trace.recvs).encode()


async def test_inbound_basic():
    trace = load_trace("inbound_basic")
    async with FreeSwitchSimulator() as sim:
        client = await EslTestClient.connect(sim.host, sim.port)
        await client.wait_for(lambda: len(client.messages) == 1)
        for frame in trace.sends:
            n_replies, n_events = len(client.replies), len(client.events)
            await client.send_raw(frame.data)
            await client.wait_for(lambda: len(client.replies) > n_replies)
            if frame.data.startswith("bgapi"):
                await client.wait_for(lambda: len(client.events) > n_events)
        await asyncio.wait_for(client.closed.wait(), 2)
        rec_replies, rec_events = _split([f.data for f in trace.recvs])
        # status output has live counters: compare its shape line by line
        allowed = (r"body 'UP \d+ years", r"body .*session\(s\)")
        _assert_same(rec_replies, [m.raw for m in client.replies], "replies", allowed)
        _assert_same(rec_events, [m.raw for m in client.events], "events", (r"^BACKGROUND_JOB: .*Job-Command-Arg",))
        status = next(m.body for m in client.replies if m.body.startswith("UP "))
        recorded_status = next(parse_message(f).body for f in rec_replies if "UP 0 years" in f)
        assert [re.sub(r"\d+", "N", l) for l in status.splitlines()] == \
               [re.sub(r"\d+", "N", l) for l in recorded_status.splitlines()]
        # the caller-chosen Job-UUID is honoured, and the job output is the body
        job = [m for m in client.events if "7f4db8b6-1c1f-4d11-9c0b-2a4b2a4b2a4b" in m.body]
        assert job and "\n\nUP 0 years" in job[0].body
        assert sim.received_commands[0].line == "auth ClueCon"


async def _drive_outbound(trace_name: str, sim_kwargs: dict, driver_originate: str,
                          actions: dict[int, object]) -> tuple[EslTestClient, list[str], list[str], FreeSwitchSimulator]:
    """Run the outbound app side of ``trace_name`` against the simulator.

    A driver inbound connection originates the loopback call (as the
    ``*_driver`` traces did); our socket server then replays the recorded
    ``send`` frames, waiting before each one until as many events have
    arrived as had been recorded by then. ``actions[i]`` runs after send i.
    """
    trace = load_trace(trace_name)
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()

    async def on_connect(reader, writer):
        if not accepted.done():
            accepted.set_result(EslTestClient(reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    dialplan = {**DEFAULT_DIALPLAN, "9000": [("socket", f"127.0.0.1:{port} async full")]}
    sim = FreeSwitchSimulator(time_scale=0.01, dialplan=dialplan,
                              media_durations={HELLO: 2.0}, **sim_kwargs)
    await sim.start()
    driver = await EslTestClient.connect(sim.host, sim.port)
    await driver.auth()
    originate = asyncio.create_task(driver.api(driver_originate, timeout=5))
    app = await asyncio.wait_for(accepted, 2)
    events_before: list[int] = []
    count = 0
    for frame in trace.frames:
        if frame.dir == "send":
            events_before.append(count)
        elif _is_event(frame.data):
            count += 1
    recorded_uuid = parse_message(trace.recvs[0].data).header("Unique-ID")
    for i, frame in enumerate(trace.sends):
        try:
            await app.wait_for(lambda: len(app.events) >= events_before[i], 3)
        except asyncio.TimeoutError:
            got = [parse_message(m.raw).event_name for m in app.events]
            raise AssertionError(f"before send {i} ({frame.data.splitlines()[0]!r}) waited for "
                                 f"{events_before[i]} events, got {len(got)}: {got}") from None
        data = frame.data
        if app.replies and recorded_uuid:
            data = data.replace(recorded_uuid, app.replies[0].headers["Unique-ID"])
        await app.send_raw(data)
        action = actions.get(i)
        if action is not None:
            await action(sim, driver, app)  # type: ignore[operator]
    # with a plain linger the switch keeps the session until the client closes (the recorded
    # client closed once the linger notice was in)
    await app.wait_for(lambda: any(m.headers.get("Content-Disposition") == "linger" for m in app.replies), 3)
    await app.close()
    await asyncio.wait_for(app.closed.wait(), 3)
    await originate
    server.close()
    return app, *_split([f.data for f in trace.recvs]), sim  # type: ignore[return-value]


async def test_outbound_socket():
    async def press_keys(sim, driver, app):
        assert (await driver.api("uuid_send_dtmf 55555555-0000-0000-0000-000000000001 42#")) == \
            "+OK 55555555-0000-0000-0000-000000000001 sent DTMF 42#.\n"

    app, rec_replies, rec_events, sim = await _drive_outbound(
        "outbound_socket", {}, "originate {origination_uuid=55555555-0000-0000-0000-000000000001,"
        "origination_caller_id_number=74951234567}loopback/9000/default &park()", {7: press_keys})
    try:
        _assert_same(rec_replies, [m.raw for m in app.replies], "replies", SOCKET_PORT)
        _assert_same(rec_events, [m.raw for m in app.events], "events", SOCKET_PORT)
        getvar = [m for m in app.replies if m.headers.get("Content-Type") == "api/response"]
        assert getvar[0].body == "42"
    finally:
        await sim.stop()


async def test_outbound_socket_flow():
    b2 = "66666666-0000-0000-0000-0000000000b2"

    async def press_hash(sim, driver, app):
        await app.wait_for(lambda: any(b"Application: playback" in m.raw for m in app.events))
        await driver.api("uuid_send_dtmf 66666666-0000-0000-0000-0000000000a1 #")

    async def far_end_hangs_up(sim, driver, app):
        await app.wait_for(lambda: any(b"CHANNEL_BRIDGE" in m.raw for m in app.events), 3)
        assert await driver.api(f"uuid_kill {b2} NORMAL_CLEARING") == "+OK\n"

    async def caller_hangs_up(sim, driver, app):
        await app.wait_for(lambda: sum(b"Event-Name: CHANNEL_EXECUTE\n" in m.raw for m in app.events) >= 11, 3)
        assert await driver.api("uuid_kill 66666666-0000-0000-0000-0000000000a1 NORMAL_CLEARING") == "+OK\n"

    app, rec_replies, rec_events, sim = await _drive_outbound(
        "outbound_socket_flow", {"record_talk_seconds": 0.0},
        "originate {origination_uuid=66666666-0000-0000-0000-0000000000a1,"
        "origination_caller_id_number=73432628900}loopback/9000/default &park()",
        {5: press_hash, 11: far_end_hangs_up, 13: caller_hangs_up})
    try:
        _assert_same(rec_replies, [m.raw for m in app.replies], "replies", SOCKET_PORT)
        _assert_same(rec_events, [m.raw for m in app.events], "events", SOCKET_PORT)
    finally:
        await sim.stop()


#: The outbound target is a free port here, 8084 in the recording.
SOCKET_PORT = (r"(current_application_data|Application-Data) = '127\.0\.0\.1:\d+ async full'",)

async def _drive_inbound(trace_name: str, sim: FreeSwitchSimulator,
                         actions: dict[int, object] | None = None) -> tuple[EslTestClient, list[str], list[str]]:
    """Send the recorded commands; before each, wait for as many events as were recorded by then.

    ``actions[i]()`` runs after send i (what happened outside the connection, e.g. a phone calling).
    """
    trace = load_trace(trace_name)
    client = await EslTestClient.connect(sim.host, sim.port)
    await client.wait_for(lambda: len(client.messages) == 1)
    events_before, count = [], 0
    for frame in trace.frames:
        if frame.dir == "send":
            events_before.append(count)
        elif _is_event(frame.data):
            count += 1
    for i, frame in enumerate(trace.sends):
        await client.wait_for(lambda: len(client.events) >= events_before[i], 3)
        n = len(client.replies)
        await client.send_raw(frame.data)
        await client.wait_for(lambda: len(client.replies) > n, 3)
        if actions and i in actions:
            await actions[i]()  # type: ignore[operator]
    await client.wait_for(lambda: client.closed.is_set() or len(client.events) >= count, 3)
    return client, *_split([f.data for f in trace.recvs])  # type: ignore[return-value]


@pytest.mark.parametrize("fmt", ["plain", "json"])
async def test_inbound_call_events(fmt):
    async with FreeSwitchSimulator(time_scale=0.01, media_durations={HELLO: 2.0}) as sim:
        client, rec_replies, rec_events = await _drive_inbound(f"inbound_call_events_{fmt}", sim)
        allowed = (r"^BACKGROUND_JOB: .*Job-Command-Arg",)
        replies = [m.raw for m in client.replies]
        # the recording stopped before the disconnect notice that follows "+OK bye" (inbound_basic has it)
        assert client.replies[-1].headers["Content-Type"] == "text/disconnect-notice"
        _assert_same(rec_replies, replies[:-1], "replies")
        _assert_same(rec_events, [m.raw for m in client.events], "events", allowed)
        assert all(m.headers["Content-Type"] == f"text/event-{fmt}" for m in client.events)


def _stream_key(frame: str | bytes) -> str:
    """Which thread of FreeSWITCH an event comes from: its channel, else its kind."""
    p = parse_message(frame)
    ev = dict(p.event or [])
    return ev.get("Channel-Name") or ev.get("Event-Subclass") or ev.get("Event-Name") or "?"


def _assert_same_per_stream(recorded: list[str], actual: list[bytes], what: str,
                            allowed: tuple[str, ...] = ()) -> None:
    """Compare events channel by channel (and background jobs among themselves).

    FreeSWITCH fires each channel's events from that channel's session thread and
    each bgapi job from its own thread, so only the order inside one stream is
    reproducible; every stream must match the recording event by event.
    """
    def streams(frames):
        out: dict[str, list] = {}
        for f in frames:
            out.setdefault(_stream_key(f), []).append(f)
        return out

    rec, act = streams(recorded), streams(actual)
    assert sorted(act) == sorted(rec), f"{what}: streams differ"
    for key in rec:
        _assert_same(rec[key], act[key], f"{what} [{key}]", allowed)


async def test_inbound_bridge():
    """uuid_transfer of a ringing originate, an originate that bridges, hupall (json events)."""
    async with FreeSwitchSimulator(time_scale=0.01) as sim:
        client, rec_replies, rec_events = await _drive_inbound("inbound_bridge", sim)
        replies = [m.raw for m in client.replies]
        assert client.replies[-1].headers["Content-Type"] == "text/disconnect-notice"
        _assert_same(rec_replies, replies[:-1], "replies")
        _assert_same_per_stream(rec_events, [m.raw for m in client.events], "events")


async def test_inbound_conference():
    """Two members join 3000: conference::maintenance events, list, json_list, kick all, hupall."""
    async with FreeSwitchSimulator(time_scale=0.01) as sim:
        client, rec_replies, rec_events = await _drive_inbound("inbound_conference", sim)
        replies = [m.raw for m in client.replies]
        assert client.replies[-1].headers["Content-Type"] == "text/disconnect-notice"
        # json_list carries live run times and uuids: compared as JSON below
        json_at = next(i for i, f in enumerate(rec_replies) if f.split("\n\n", 1)[1].startswith("[{"))
        _assert_same(rec_replies[:json_at] + rec_replies[json_at + 1:],
                     replies[:json_at] + replies[json_at + 1:-1], "replies")
        recorded_json = json.loads(parse_message(rec_replies[json_at]).body)
        actual_json = json.loads(client.replies[json_at].body)
        assert _json_shape(actual_json) == _json_shape(recorded_json)
        # and printed as cJSON prints it (tabs, ":\t", ", " between array items), byte for byte
        mask = lambda text: re.sub(r'"(run_time|join_time)":\t\d+', r'"\1":\tN', normalize(text))  # noqa: E731
        assert mask(client.replies[json_at].body) == mask(parse_message(rec_replies[json_at]).body)
        _assert_same(rec_events, [m.raw for m in client.events], "events")


def _json_shape(value, key: str = ""):
    """Keys, order, types and non-volatile values of a JSON document (uuids, run times masked)."""
    if isinstance(value, dict):
        return [(k, _json_shape(v, k)) for k, v in value.items()]
    if isinstance(value, list):
        return [_json_shape(v, key) for v in value]
    if key in ("run_time", "last_talking", "conference_uuid", "uuid") or key.endswith("_time"):
        return type(value).__name__
    return value


async def test_inbound_fax(tmp_path):
    """txfax → rxfax over loopback: spandsp negotiate/page/result events; the received TIFF is real."""
    from tests.fsim.fax import read_tiff, write_blank_tiff

    (tmp_path / "spool").mkdir()
    write_blank_tiff(tmp_path / "fax.tif")  # one A4 fine page, as the recording sent
    async with FreeSwitchSimulator(time_scale=0.002, path_map={"/srv/fs-01/": f"{tmp_path}/"}) as sim:
        client, rec_replies, rec_events = await _drive_inbound("inbound_fax", sim)
        assert client.replies[-1].headers["Content-Type"] == "text/disconnect-notice"
        _assert_same(rec_replies, [m.raw for m in client.replies][:-1], "replies")
        _assert_same(rec_events, [m.raw for m in client.events], "events")
        received = list((tmp_path / "spool").glob("rx-*.tif"))
        assert len(received) == 1 and read_tiff(received[0]).pages == 1


async def test_inbound_sip_call_events():
    """A phone registered as 1000 calls 9196: CREATE/ANSWER of a SIP leg with its ~145 fields."""
    async with FreeSwitchSimulator(time_scale=0.01) as sim:
        reg = sim.register("1000", "127.0.0.1", port=5072, call_id="1-15616@127.0.0.1")

        async def phone_calls():
            await sim.place_call(destination="9196", sip_user="1000", domain="127.0.0.1",
                                 caller_name="Caller 1000", sip_port=5075)

        client, rec_replies, rec_events = await _drive_inbound("inbound_sip_call_events", sim, {1: phone_calls})
        replies = [m.raw for m in client.replies]
        assert client.replies[-1].headers["Content-Type"] == "text/disconnect-notice"
        # the registration's expiry is live: compare the rest of both listings exactly
        live = (r"EXP\(.*\) EXPSECS\(\d+\)|\"expires\":\"\d+\"|Host:       \t\w+|\"hostname\":\"\w+\"")
        _assert_same(rec_replies, replies[:-1], "replies", (r"^api/response: body",))
        for rec, act in zip(rec_replies[3:5], client.replies[3:5]):
            assert re.sub(live, "*", act.body) == re.sub(live, "*", parse_message(rec).body)
        assert f'"expires":"{reg.expires_at}"' in client.replies[4].body
        _assert_same(rec_events, [m.raw for m in client.events], "events")


#: Every recorded trace and the test that checks the simulator against it. ``*_driver`` traces are the
#: inbound side of the outbound tests; xml_curl_requests is HTTP (fs_config's tests replay it).
CHECKED = {
    "inbound_auth_fail": test_auth_fail_is_byte_exact, "inbound_basic": test_inbound_basic,
    "inbound_call_events_plain": test_inbound_call_events, "inbound_call_events_json": test_inbound_call_events,
    "inbound_bridge": test_inbound_bridge, "inbound_conference": test_inbound_conference,
    "inbound_fax": test_inbound_fax, "inbound_sip_call_events": test_inbound_sip_call_events,
    "outbound_socket": test_outbound_socket, "outbound_socket_driver": test_outbound_socket,
    "outbound_socket_flow": test_outbound_socket_flow, "outbound_socket_flow_driver": test_outbound_socket_flow,
}
NOT_ESL = {"xml_curl_requests"}


def test_every_recorded_trace_is_checked():
    recorded = {p.stem for p in traces_dir().glob("*.jsonl")}
    assert recorded - NOT_ESL <= set(CHECKED), f"traces without a conformance test: {recorded - NOT_ESL - set(CHECKED)}"
