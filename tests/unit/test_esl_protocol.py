"""The ESL framing/parsing (pure) and the small pure helpers of the node manager."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from esl_control.nodes import backoff_delay, parse_uptime
from esl_control.transport.protocol import (EslEvent, FrameParser, ProtocolError, event_from_message,
                                            format_command, parse_headers)

TRACES = Path("/work/shared/freeswitch/traces")


def trace_bytes(name: str) -> bytes:
    lines = (TRACES / f"{name}.jsonl").read_text().splitlines()[1:]
    return "".join(f["data"] for f in map(json.loads, lines) if f["dir"] == "recv").encode()


@pytest.mark.skipif(not TRACES.is_dir(), reason="traces not available")
@pytest.mark.parametrize("chunk", [1, 7, 100, 4096, 1 << 20])
def test_framing_is_independent_of_how_bytes_arrive(chunk):
    data = trace_bytes("inbound_call_events_plain")
    parser = FrameParser()
    messages = []
    for i in range(0, len(data), chunk):
        messages.extend(parser.feed(data[i:i + chunk]))
    kinds = [m.content_type for m in messages]
    assert kinds[0] == "auth/request" and kinds.count("api/response") == 5
    events = [event_from_message(m) for m in messages if m.content_type == "text/event-plain"]
    recorded = (TRACES / "inbound_call_events_plain.jsonl").read_text().count("text/event-plain")
    assert len(events) == recorded
    job = next(e for e in events if e.name == "BACKGROUND_JOB")
    assert job.body == "+OK 11111111-2222-3333-4444-555500000001\n"
    assert "Content-Length" in job.headers and "+OK" not in "".join(job.headers)


def test_encoded_newline_in_a_value_cannot_forge_a_header():
    # a SIP peer chose this caller name; FreeSWITCH URL-encodes it in plain events
    body = ("Event-Name: CHANNEL_CREATE\n"
            "Caller-Caller-ID-Name: Bob%0Avariable_pult_pbx_id%3A%2042\n"
            "variable_pult_pbx_id: 7\n\n")
    msg = FrameParser().feed(f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n{body}"
                             .encode())[0]
    event = event_from_message(msg)
    # read lazily (before the full parse) and after it: the same, unforged answers
    assert event.name == "CHANNEL_CREATE" and event.peek("variable_pult_pbx_id") == "7"
    assert event.peek("Caller-Caller-ID-Name") == "Bob\nvariable_pult_pbx_id: 42"
    assert event["Caller-Caller-ID-Name"] == "Bob\nvariable_pult_pbx_id: 42"
    assert event["variable_pult_pbx_id"] == "7"


def test_json_events_and_empty_values():
    body = json.dumps({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "x", "_body": "+OK done\n"})
    msg = FrameParser().feed(f"Content-Length: {len(body)}\nContent-Type: text/event-json\n\n{body}"
                             .encode())[0]
    event = event_from_message(msg)
    assert event.name == "BACKGROUND_JOB" and event.body == "+OK done\n" and "_body" not in event
    assert parse_headers("Empty:\nA: b%20c") == {"Empty": "", "A": "b c"}
    custom = EslEvent({"Event-Name": "CUSTOM", "Event-Subclass": "conference::maintenance"})
    assert custom.key == "conference::maintenance"


def test_utf8_split_across_reads():
    body = "Event-Name: CUSTOM\nCaller-Caller-ID-Name: Пётр\n\n".encode()
    raw = f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n".encode() + body
    parser = FrameParser()
    cut = raw.index("П".encode()) + 1  # in the middle of a two-byte character
    assert parser.feed(raw[:cut]) == []
    [msg] = parser.feed(raw[cut:])
    assert event_from_message(msg)["Caller-Caller-ID-Name"] == "Пётр"


def test_bad_frames_raise_protocol_errors():
    with pytest.raises(ProtocolError, match="Content-Length"):
        FrameParser().feed(b"Content-Length: ten\n\n")
    parser = FrameParser(max_header_bytes=64)
    with pytest.raises(ProtocolError, match="header block"):
        parser.feed(b"X: " + b"y" * 100)
    with pytest.raises(ProtocolError, match="not JSON"):
        event_from_message(FrameParser().feed(b"Content-Length: 2\nContent-Type: text/event-json\n\n{x")[0])


def test_format_command_refuses_injection():
    assert format_command("sendmsg", {"call-command": "hangup"}) == "sendmsg\ncall-command: hangup"
    with pytest.raises(ValueError, match="one line"):
        format_command("api status\n\nexit")
    with pytest.raises(ValueError, match="bad ESL header"):
        format_command("sendmsg", {"execute-app-arg": "x\nexecute-app-name: system"})
    with pytest.raises(ValueError, match="bad ESL header"):
        format_command("sendmsg", {"a: b": "c"})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True),
                       st.text(max_size=40), min_size=1, max_size=10),
       st.integers(min_value=1, max_value=50))
def test_any_encoded_headers_round_trip(headers, chunk):
    from urllib.parse import quote
    body = "".join(f"{k}: {quote(v, safe='')}\n" for k, v in headers.items()) + "\n"
    raw = f"Content-Length: {len(body.encode())}\nContent-Type: text/event-plain\n\n{body}".encode()
    parser = FrameParser()
    out = []
    for i in range(0, len(raw), chunk):
        out.extend(parser.feed(raw[i:i + chunk]))
    assert len(out) == 1
    assert event_from_message(out[0]).headers == headers


def test_parse_uptime():
    text = ("UP 0 years, 2 days, 3 hours, 4 minutes, 33 seconds, 36 milliseconds, 524 microseconds\n"
            "FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n")
    assert parse_uptime(text) == pytest.approx(2 * 86400 + 3 * 3600 + 4 * 60 + 33.036524)
    assert parse_uptime("-ERR no reply\n") is None


def test_backoff_grows_with_jitter_and_stays_within_bounds():
    rng = random.Random(1)
    delays = [backoff_delay(a, 0.5, 30.0, rng) for a in range(12)]
    assert all(0.25 <= d <= 30.0 for d in delays)
    assert delays[0] <= 0.5 and delays[-1] >= 15.0
    assert len({round(backoff_delay(3, 0.5, 30.0, rng), 6) for _ in range(20)}) > 1  # jittered
