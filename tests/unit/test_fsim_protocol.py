"""Unit tests of the simulator's wire format and small models (no sockets)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fsim.apps import parse_dial_string
from tests.fsim.events import Event
from tests.fsim.protocol import api_response, format_message, read_command, url_decode, url_encode
from tests.fsim.server import FreeSwitchSimulator
from tests.fsim.traces import compare_message, parse_message


@pytest.mark.parametrize("raw, encoded", [
    ("fd00::2", "fd00%3A%3A2"),  # as in every recorded event
    ("Sun, 22 Nov 2026 03:08:19 GMT", "Sun,%2022%20Nov%202026%2003%3A08%3A19%20GMT"),
    ("tone_stream://%(1000,0,440);loops=20", "tone_stream%3A//%25(1000,0,440)%3Bloops%3D20"),
    ("1 4 1 4000 # /srv/a.wav silence_stream://250 pult_digits \\d+ 2000",
     "1%204%201%204000%20%23%20/srv/a.wav%20silence_stream%3A//250%20pult_digits%20%5Cd%2B%202000"),
    ("+OK\n", "%2BOK%0A"),
    ('"Outbound Call" <default>', "%22Outbound%20Call%22%20%3Cdefault%3E"),
    ("a%20b", "a%20b"),  # no double encoding of %XX
    ("Привет", "%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82"),
])
def test_url_encode_matches_freeswitch(raw, encoded):
    assert url_encode(raw) == encoded
    if "%20" not in raw:
        assert url_decode(encoded) == raw


def test_api_response_framing_counts_bytes():
    msg = api_response("Привет\n")
    assert msg == "Content-Type: api/response\nContent-Length: 13\n\nПривет\n".encode()
    assert parse_message(msg).errors == []


def test_plain_and_json_events_keep_order_duplicates_and_body():
    ev = Event([("Event-Name", "CHANNEL_HANGUP_COMPLETE"), ("Hangup-Cause", "NORMAL_CLEARING"),
                ("Caller-Callee-ID-Name", "Outbound Call"), ("Hangup-Cause", "NORMAL_CLEARING")], "x\n")
    plain = ev.to_plain()
    assert plain.startswith(b"Content-Length: ")
    head, body = plain.split(b"\n\n", 1)
    assert head.split(b"\n")[1] == b"Content-Type: text/event-plain"
    assert body.decode() == ("Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: NORMAL_CLEARING\n"
                             "Caller-Callee-ID-Name: Outbound%20Call\nHangup-Cause: NORMAL_CLEARING\n"
                             "Content-Length: 2\n\nx\n")
    js = ev.to_json().split(b"\n\n", 1)[1].decode()
    assert js.count('"Hangup-Cause"') == 2
    assert json.loads(js)["_body"] == "x\n" and json.loads(js)["Content-Length"] == "2"
    assert parse_message(ev.to_json()).event_body == "x\n"


def test_compare_message_reports_real_differences_only():
    a = format_message([("Content-Type", "command/reply"), ("Reply-Text", "+OK Job-UUID: 11111111-2222-3333-4444-555555555555")])
    b = format_message([("Content-Type", "command/reply"), ("Reply-Text", "+OK Job-UUID: 99999999-2222-3333-4444-555555555555")])
    assert compare_message(a, b) == []
    c = format_message([("Reply-Text", "+OK"), ("Content-Type", "command/reply")])
    assert any("message headers" in d for d in compare_message(a, c))
    broken = b"Content-Type: api/response\nContent-Length: 10\n\nshort"
    assert any("Content-Length" in d for d in compare_message(api_response("short"), broken))


async def _feed(data: bytes):
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_command_with_headers_crlf_and_body():
    reader = await _feed(b"\r\nsendmsg\r\ncall-command: execute\r\nexecute-app-name: playback\r\n"
                         b"Content-Length: 5\r\n\r\nhello" b"exit\n\n")
    cmd = await read_command(reader)
    assert cmd.verb == "sendmsg" and cmd.headers["execute-app-name"] == "playback" and cmd.body == "hello"
    assert (await read_command(reader)).line == "exit"
    assert await read_command(reader) is None


def test_parse_dial_string():
    assert parse_dial_string("{origination_uuid=u1,a=b}loopback/9196/default") == (
        {"origination_uuid": "u1", "a": "b"}, ["loopback/9196/default"])
    assert parse_dial_string("sofia/gateway/a/1|sofia/gateway/b/1")[1] == ["sofia/gateway/a/1", "sofia/gateway/b/1"]


async def test_media_lengths_and_time_scale():
    sim = FreeSwitchSimulator(media_durations={"/x.wav": 7.5}, time_scale=0.5)
    assert sim.media_seconds("/x.wav") == 7.5
    assert sim.media_seconds("silence_stream://250") == 0.25
    assert sim.media_seconds("tone_stream://%(1000,0,440);loops=20") == 20.0
    assert sim.media_seconds("/unknown.wav") == 2.0
    with pytest.raises(ValueError):
        FreeSwitchSimulator(time_scale=0)


async def test_place_call_rejects_bad_numbers():
    sim = FreeSwitchSimulator()
    with pytest.raises(ValueError, match="caller"):
        await sim.place_call(caller="79 16\n")


async def test_billing_fields_follow_freeswitch_arithmetic():
    sim = FreeSwitchSimulator()
    call = await sim.add_existing_call(caller="79161234567", destination="100")
    ch = call.channel
    # the recorded outbound_socket_flow call
    ch.created_us, ch.answered_us, ch.bridged_us, ch.end_us = (1795317621804004, 1795317621844001,
                                                               1795317628044016, 1795317632104010)
    ch.billing_variables()
    v = ch.vars
    assert (v["duration"], v["billsec"], v["waitsec"], v["answersec"]) == ("11", "11", "7", "0")
    assert (v["mduration"], v["billmsec"], v["answermsec"], v["waitmsec"]) == ("10300", "10260", "40", "6240")
    assert (v["uduration"], v["billusec"], v["answerusec"], v["waitusec"]) == ("10300006", "10260009", "39997", "6240012")
    assert v["hangup_cause_q850"] == "16" and v["caller_id"] == "79161234567"
    await call.hangup()
    await call.wait_ended()
    await sim.stop()
