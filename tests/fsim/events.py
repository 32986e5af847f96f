"""Events: ordered headers, the two wire formats (plain, json) and the common block.

A FreeSWITCH event is an ordered list of headers (names may repeat:
CHANNEL_HANGUP_COMPLETE carries ``Hangup-Cause`` twice) plus an optional body.
``text/event-plain`` URL-encodes every value and appends ``Content-Length`` and
the body; ``text/event-json`` emits one JSON object (duplicate keys kept, as
cJSON does) with the body under ``_body``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from .protocol import format_message, url_encode

#: Where each event is fired in the FreeSWITCH source, as the traces show
#: (Event-Calling-File, -Function, -Line-Number).
CALLING_SITES: dict[str, tuple[str, str, str]] = {
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3512"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3698"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1584"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1646"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2020"),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "1481"),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", "1240"),
    "conference::maintenance": ("conference_member.c", "conference_member_add", "962"),
}

#: Names accepted by ``event``/``nixevent`` (the subset the simulator can fire
#: plus the usual ones clients subscribe to; unknown names are still accepted
#: like FreeSWITCH does for CUSTOM subclasses).
KNOWN_EVENTS = {
    "ALL", "CUSTOM", "BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE",
    "CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE",
    "CHANNEL_UUID", "CHANNEL_DATA", "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP",
    "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD",
    "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE",
    "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "DETECTED_SPEECH", "DETECTED_TONE",
    "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS",
    "CHANNEL_ACTION", "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP",
    "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP",
    "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT",
    "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL",
}


@dataclass
class Event:
    """An event as FreeSWITCH fires it: ordered (name, value) headers and a body."""

    headers: list[tuple[str, str]]
    body: str | None = None

    @property
    def name(self) -> str:
        return self.get("Event-Name") or ""

    @property
    def subclass(self) -> str | None:
        return self.get("Event-Subclass")

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def as_dict(self) -> dict[str, str]:
        """Headers as a dict (first occurrence wins), plus ``_body`` if any."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        if self.body is not None:
            out["_body"] = self.body
        return out

    # -- wire formats -------------------------------------------------------
    def to_plain(self) -> bytes:
        """A ``text/event-plain`` message (values URL-encoded)."""
        text = "".join(f"{k}: {url_encode(v)}\n" for k, v in self.headers)
        if self.body is not None:
            text += f"Content-Length: {len(self.body.encode('utf-8'))}\n\n{self.body}"
        else:
            text += "\n"
        return format_message([("Content-Length", None), ("Content-Type", "text/event-plain")], text)

    def to_json(self) -> bytes:
        """A ``text/event-json`` message; duplicate header names are kept."""
        pairs = list(self.headers)
        if self.body is not None:
            pairs.append(("Content-Length", str(len(self.body.encode("utf-8")))))
            pairs.append(("_body", self.body))
        text = "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}" for k, v in pairs) + "}"
        return format_message([("Content-Length", None), ("Content-Type", "text/event-json")], text)

    def encode(self, fmt: str) -> bytes:
        if fmt == "json":
            return self.to_json()
        if fmt == "plain":
            return self.to_plain()
        raise ValueError(f"unsupported event format {fmt!r} (plain or json)")


class SimClock:
    """Wall-clock microseconds, with simulated time running ``1/time_scale`` faster.

    A 2 s prompt with ``time_scale=0.02`` takes 40 ms of real time but the
    event timestamps and billing fields still show 2 s, so CDR maths stays
    realistic while tests stay fast.
    """

    def __init__(self, time_scale: float = 1.0):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._base_us = int(time.time() * 1_000_000)
        self._base_mono = time.monotonic()

    def now_us(self) -> int:
        return self._base_us + int((time.monotonic() - self._base_mono) * 1_000_000 / self.time_scale)

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep ``sim_seconds`` of simulated time."""
        await asyncio.sleep(max(0.0, sim_seconds) * self.time_scale)


def local_stamp(us: int) -> str:
    """``2026-11-22 03:08:19`` in the machine's local time (as FreeSWITCH prints)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))


def gmt_stamp(us: int) -> str:
    """``Sun, 22 Nov 2026 03:08:19 GMT``."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(us / 1_000_000))


@dataclass
class CoreInfo:
    """What identifies this 'FreeSWITCH' in every event's common block."""

    core_uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    hostname: str = "fsim"
    switchname: str = "fsim"
    ipv4: str = "127.0.0.1"
    ipv6: str = "::1"


class EventFactory:
    """Builds the common header block and numbers events (Event-Sequence)."""

    def __init__(self, core: CoreInfo, clock: SimClock, first_sequence: int = 1):
        self.core = core
        self.clock = clock
        self._seq = first_sequence

    def next_sequence(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def common(self, name: str, subclass: str | None = None, site: tuple[str, str, str] | None = None,
               now_us: int | None = None) -> list[tuple[str, str]]:
        """Event-Name … Event-Sequence, in FreeSWITCH's order."""
        now = self.clock.now_us() if now_us is None else now_us
        file_, func, line = site or CALLING_SITES.get(subclass or name, ("switch_event.c", "switch_event_fire_detailed", "0"))
        headers: list[tuple[str, str]] = []
        if subclass:
            headers.append(("Event-Subclass", subclass))
        headers += [
            ("Event-Name", name),
            ("Core-UUID", self.core.core_uuid),
            ("FreeSWITCH-Hostname", self.core.hostname),
            ("FreeSWITCH-Switchname", self.core.switchname),
            ("FreeSWITCH-IPv4", self.core.ipv4),
            ("FreeSWITCH-IPv6", self.core.ipv6),
            ("Event-Date-Local", local_stamp(now)),
            ("Event-Date-GMT", gmt_stamp(now)),
            ("Event-Date-Timestamp", str(now)),
            ("Event-Calling-File", file_),
            ("Event-Calling-Function", func),
            ("Event-Calling-Line-Number", line),
            ("Event-Sequence", str(self.next_sequence())),
        ]
        return headers

    def background_job(self, job_uuid: str, command: str, arg: str, output: str) -> Event:
        headers = self.common("BACKGROUND_JOB")
        headers.append(("Job-UUID", job_uuid))
        headers.append(("Job-Command", command))
        if arg:
            headers.append(("Job-Command-Arg", arg))
        return Event(headers, output)
